% rebase('base.tpl')
<section class="card">
  <h1>Analyze an image</h1>
  <p class="muted">Upload a JPEG or PNG (at most {{'%g' % max_mb}} MB). It is analyzed in memory and never stored.</p>
  <form method="post" action="/analyze" enctype="multipart/form-data" class="upload">
    <input type="hidden" name="csrf_token" value="{{session.csrf}}">
    <label class="file">Image <input type="file" name="image" accept="image/jpeg,image/png" required></label>
    <button type="submit" class="btn primary">Analyze</button>
  </form>
</section>
% if result is not None:
<section class="card" id="result">
  <h2>{{len(result['faces'])}} face{{'' if len(result['faces']) == 1 else 's'}} found <span class="muted small">in {{result['width']}}×{{result['height']}} px</span></h2>
  <div class="grid two">
    <img class="analyzed" src="{{result['image']}}" alt="The uploaded image with face boxes">
    <div>
    % if not result['faces']:
      <p>No face was found. Faces should be at least about 24 px wide and facing the camera.</p>
    % end
    % for i, f in enumerate(result['faces']):
      <div class="face">
        <h3>Face {{i + 1}}: <span class="tag e-{{f['dominant']}}" data-dominant="{{f['dominant']}}">{{f['dominant']}}</span></h3>
        <ul class="bars">
        % for e, v in f['emotions'].items():
          <li><span class="bl">{{e}}</span><span class="bt"><span class="bf e-{{e}} w{{min(20, int(round(v * 20)))}}"></span></span><span class="bv">{{'%.0f' % (v * 100)}}%</span></li>
        % end
        </ul>
      </div>
    % end
    </div>
  </div>
</section>
% end
