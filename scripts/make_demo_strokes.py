"""Regenerate core/data/demo.json, the bundled stroke painting used before a photo is painted.

A small procedural landscape that exercises all four brush kinds. Run:
    python scripts/make_demo_strokes.py
"""

import math
import random
from pathlib import Path

from brushwork.files import save_strokes
from brushwork.strokes import Stroke, StrokeList

W, H = 640, 427
rng = random.Random(7)
strokes = []


def jitter(c, amount=0.05):
    return [min(1.0, max(0.0, v + rng.uniform(-amount, amount))) for v in c]


for i in range(110):  # sky: translucent tape, darker towards the top
    y = rng.uniform(0, 0.55 * H)
    t = y / (0.55 * H)
    sky = jitter([0.25 + 0.55 * t, 0.45 + 0.4 * t, 0.85 + 0.1 * t], 0.04)
    strokes.append(Stroke.make("tape", cx=rng.uniform(0, W), cy=y, length=rng.uniform(120, 300),
                               width=rng.uniform(15, 40), angle=rng.uniform(-0.08, 0.08),
                               r=sky[0], g=sky[1], b=sky[2], opacity=rng.uniform(0.4, 0.8)))
for i in range(30):  # sun: watercolour swirls
    a = rng.uniform(0, 2 * math.pi)
    cx, cy, rad = 470, 110, rng.uniform(5, 40)
    p = [(cx + rad * math.cos(a + k * 0.8), cy + rad * math.sin(a + k * 0.8)) for k in range(3)]
    c0, c1 = jitter([1.0, 0.85, 0.3]), jitter([1.0, 0.55, 0.15])
    strokes.append(Stroke.make("watercolor", x0=p[0][0], y0=p[0][1], x1=p[1][0], y1=p[1][1],
                               x2=p[2][0], y2=p[2][1], width0=rng.uniform(8, 22),
                               width1=rng.uniform(4, 14), r0=c0[0], g0=c0[1], b0=c0[2],
                               r1=c1[0], g1=c1[1], b1=c1[2], opacity=0.6))
for i in range(170):  # hills: oil brush
    x = rng.uniform(-20, W + 20)
    ridge = 0.55 * H - 60 * math.sin(x / W * 3.2 + 0.5)
    y = rng.uniform(ridge, H)
    c0 = jitter([0.2, 0.35 + 0.3 * (y / H), 0.25], 0.06)
    c1 = jitter([0.15, 0.3 + 0.3 * (y / H), 0.2], 0.06)
    strokes.append(Stroke.make("oilbrush", cx=x, cy=y, length=rng.uniform(60, 140),
                               width=rng.uniform(18, 40), angle=rng.uniform(-0.35, 0.35),
                               r0=c0[0], g0=c0[1], b0=c0[2], r1=c1[0], g1=c1[1], b1=c1[2]))
for i in range(120):  # grass and flowers: marker pen
    x, y = rng.uniform(0, W), rng.uniform(0.75 * H, H)
    lean = rng.uniform(-12, 12)
    c = jitter([0.3, 0.6, 0.2], 0.1) if i % 6 else jitter([0.95, 0.35, 0.4], 0.05)
    strokes.append(Stroke.make("markerpen", x0=x, y0=y, x1=x + lean / 2, y1=y - 15,
                               x2=x + lean, y2=y - rng.uniform(20, 45), width=rng.uniform(2, 5),
                               r=c[0], g=c[1], b=c[2], opacity=0.9))

out = Path(__file__).resolve().parent.parent / "core" / "data" / "demo.json"
save_strokes(StrokeList(W, H, tuple(strokes), (0.93, 0.9, 0.82)), out)
print(f"wrote {out} ({len(strokes)} strokes)")
