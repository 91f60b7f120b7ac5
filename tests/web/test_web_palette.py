"""The emotion colours stay apart for colour-blind staff and in both themes.

Each theme's seven colours are read from the stylesheet, passed through the Machado et al.
(2009) simulation of deuteranopia and protanopia (severity 1, in linear RGB) and compared in
CIELAB: every pair, and every colour against the card it is drawn on, must differ by at least
:data:`MIN_DELTA_E` (CIE76; about 2.3 is "just noticeable", 10 and more reads as a different
colour at a glance). The old palette (red/green/purple …) fails this under deuteranopia.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from affectra_edge.types import EMOTIONS

CSS = Path(__file__).resolve().parents[2] / "web" / "static" / "app.css"
MIN_DELTA_E = 15.0

SIMULATIONS = {
    "normal": np.eye(3),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
}
_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = np.array([0.95047, 1.0, 1.08883])


def _hex(text: str) -> np.ndarray:
    return np.array([int(text[i : i + 2], 16) for i in (1, 3, 5)], dtype=float) / 255


def _linear(rgb: np.ndarray) -> np.ndarray:
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _lab(linear_rgb: np.ndarray) -> np.ndarray:
    x = _XYZ @ np.clip(linear_rgb, 0, 1) / _WHITE
    f = np.where(x > 0.008856, np.cbrt(x), 7.787 * x + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _seen(hex_colour: str, sim: str) -> np.ndarray:
    return _lab(SIMULATIONS[sim] @ _linear(_hex(hex_colour)))


def _variables(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block))


def themes() -> dict[str, dict[str, str]]:
    """Each theme's emotion colours and card colour, as the stylesheet resolves them."""
    css = CSS.read_text(encoding="utf-8")
    light = _variables(css[css.index(":root {") : css.index("}", css.index(":root {"))])
    dark_block = css[css.index(':root[data-theme="dark"] {') :]
    dark = {**light, **_variables(dark_block[: dark_block.index("}")])}
    return {"light": light, "dark": dark}


def _worst(colours: dict[str, str], background: str, sim: str) -> tuple[float, str]:
    seen = {e: _seen(colours[f"e-{e}"], sim) for e in EMOTIONS}
    pairs = [
        (float(np.linalg.norm(seen[a] - seen[b])), f"{a}/{b}")
        for a, b in itertools.combinations(EMOTIONS, 2)
    ]
    bg = _seen(background, sim)
    pairs += [(float(np.linalg.norm(seen[e] - bg)), f"{e}/card") for e in EMOTIONS]
    return min(pairs)


@pytest.mark.parametrize("sim", sorted(SIMULATIONS))
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_emotion_colours_stay_apart(theme, sim):
    colours = themes()[theme]
    delta, pair = _worst(colours, colours["card"], sim)
    assert delta >= MIN_DELTA_E, f"{theme}, {sim}: {pair} only ΔE {delta:.1f} apart"


def test_the_old_palette_would_fail_under_deuteranopia():
    """The check has teeth: the palette before issue 17 mixes up angry and disgust."""
    old = {
        "e-angry": "#dc3c3c",
        "e-disgust": "#3ca050",
        "e-fear": "#9650a0",
        "e-happy": "#f0be28",
        "e-sad": "#2878c8",
        "e-surprise": "#3cc8c8",
        "e-neutral": "#a0a0a0",
    }
    delta, pair = _worst(old, "#ffffff", "deuteranopia")
    assert delta < MIN_DELTA_E, (delta, pair)


def test_live_and_analysis_boxes_use_the_page_colours():
    """A box on the live view or an analyzed picture matches the legend on the page."""
    from affectra_edge.webui.render import COLOURS

    light = themes()["light"]
    for e in EMOTIONS:
        b, g, r = COLOURS[e]
        assert f"#{r:02x}{g:02x}{b:02x}" == light[f"e-{e}"].lower(), e
