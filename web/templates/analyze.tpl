% rebase('base.tpl')
<section class="card">
  <h1>{{_('Analyze an image')}}</h1>
  <p class="muted">{{_('Upload a JPEG or PNG (at most {mb} MB). It is analyzed in memory and never stored.').format(mb=loc.number(max_mb, 0 if float(max_mb).is_integer() else 1))}}</p>
  <form method="post" action="/analyze" enctype="multipart/form-data" class="upload">
    <input type="hidden" name="csrf_token" value="{{session.csrf}}">
    <label class="file">{{_('Image')}} <input type="file" name="image" accept="image/jpeg,image/png" required></label>
    <button type="submit" class="btn primary">{{_('Analyze')}}</button>
  </form>
</section>
% if result is not None:
% n = len(result['faces'])
<section class="card" id="result">
  <h2>{{loc.ngettext('{n} face found', '{n} faces found', n).format(n=n)}} <span class="muted small">{{_('in {w}×{h} px').format(w=result['width'], h=result['height'])}}</span></h2>
  <div class="grid two">
    <img class="analyzed" src="{{result['image']}}" alt="{{_('The uploaded image with numbered face boxes')}}">
    <div>
    % if not result['faces']:
      <p>{{_('No face was found. Faces should be at least about 24 px wide and facing the camera.')}}</p>
    % end
    % for i, f in enumerate(result['faces']):
      <div class="face" data-face="{{i + 1}}">
        <h3><span class="num e-{{f['dominant']}}" aria-hidden="true">{{i + 1}}</span> {{_('Face {n}').format(n=i + 1)}}: <span class="tag e-{{f['dominant']}}" data-dominant="{{f['dominant']}}">{{loc.emotion(f['dominant'])}}</span></h3>
        <ul class="bars">
        % for e, v in f['emotions'].items():
          <li><span class="bl">{{loc.emotion(e)}}</span><span class="bt"><span class="bf e-{{e}} w{{min(20, int(round(v * 20)))}}"></span></span><span class="bv">{{loc.percent(v)}}</span></li>
        % end
        </ul>
      </div>
    % end
    </div>
  </div>
</section>
% end
