"""Draw a :class:`~redstar_geo.geosynth.core.Figure` as a GeoQA-like PNG from its real coordinates.

Usage::

    png = render(figure)   # bytes; raises Reject when points crowd together or labels cannot be placed cleanly

Black lines on white, point labels placed in the widest gap between the lines meeting at the point, arcs for marked
angles, ticks for equal segments, chevrons for parallel lines, small squares for right angles. The drawing is done at
twice the size and halved, which smooths the lines without any antialiasing code. Text uses the font bundled inside
Pillow (``ImageFont.load_default(size=...)``), never a system font, so the pixels depend only on the Pillow version.
"""

from __future__ import annotations

import io
import math
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from redstar_geo.geosynth.core import Figure, Reject, angle_at

MAX_SIZE = (360, 300)
MIN_SIDE = 200
MARGIN = 30
SS = 2  # supersampling factor
FONT_PX = 15
LINE = 3  # line width at the supersampled size (1.5 px in the image)
MIN_POINT_GAP = 16  # px between two distinct points
ARC_RADIUS = 16


@cache
def _font():
    return ImageFont.load_default(size=FONT_PX * SS)


def _box(center, text):
    left, top, right, bottom = _font().getbbox(text, anchor="mm")
    pad = SS
    return center[0] + left - pad, center[1] + top - pad, center[0] + right + pad, center[1] + bottom + pad


def _support(box, u):
    """How far a box centred at the origin reaches in direction ``u``: how far to move it to clear a point."""
    w, h = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    return abs(u[0]) * w + abs(u[1]) * h


def _boxes_overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _segment_hits_box(p, q, box) -> bool:
    """Liang-Barsky clipping: whether segment PQ passes through the box."""
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for pk, qk in ((-dx, p[0] - box[0]), (dx, box[2] - p[0]), (-dy, p[1] - box[1]), (dy, box[3] - p[1])):
        if pk == 0:
            if qk < 0:
                return False
        else:
            t = qk / pk
            if pk < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return False
    return True


def _circle_hits_box(c, r, box) -> bool:
    nx, ny = min(max(c[0], box[0]), box[2]), min(max(c[1], box[1]), box[3])
    near = math.hypot(nx - c[0], ny - c[1])
    far = max(math.hypot(x - c[0], y - c[1]) for x in (box[0], box[2]) for y in (box[1], box[3]))
    return near <= r <= far


def _point_segment_distance(p, a, b) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)))
    return math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy)


def _dir(a, b):
    dx, dy = b[0] - a[0], b[1] - a[1]
    n = math.hypot(dx, dy)
    return dx / n, dy / n


class _Canvas:
    """Pixel geometry of one figure: the transform, the obstacles labels must avoid, the labels placed so far."""

    def __init__(self, fig: Figure):
        xs = [x for x, _ in fig.points.values()]
        ys = [y for _, y in fig.points.values()]
        for c, on in fig.circles:
            r = math.dist(fig.points[c], fig.points[on])
            cx, cy = fig.points[c]
            xs += [cx - r, cx + r]
            ys += [cy - r, cy + r]
        x0, y0 = min(xs), min(ys)
        bw, bh = max(max(xs) - x0, 1e-9), max(max(ys) - y0, 1e-9)
        k = min((MAX_SIZE[0] - 2 * MARGIN) / bw, (MAX_SIZE[1] - 2 * MARGIN) / bh)
        w, h = max(MIN_SIDE, round(bw * k) + 2 * MARGIN), max(MIN_SIDE, round(bh * k) + 2 * MARGIN)
        ox, oy = (w - bw * k) / 2, (h - bh * k) / 2
        self.size = (w * SS, h * SS)
        self.px = {n: ((ox + (x - x0) * k) * SS, (h - oy - (y - y0) * k) * SS) for n, (x, y) in fig.points.items()}
        self.k = k * SS
        self.segments = [(self.px[a], self.px[b]) for a, b in fig.segments]
        self.circles = [(self.px[c], math.dist(fig.points[c], fig.points[on]) * self.k) for c, on in fig.circles]
        self.labels: list[tuple] = []

    def free(self, box, avoid_lines: bool = True) -> bool:
        if box[0] < 0 or box[1] < 0 or box[2] > self.size[0] or box[3] > self.size[1]:
            return False
        if any(_boxes_overlap(box, other) for other, _, _ in self.labels):
            return False
        if avoid_lines and any(_segment_hits_box(p, q, box) for p, q in self.segments):
            return False
        return not (avoid_lines and any(_circle_hits_box(c, r, box) for c, r in self.circles))

    def place(self, candidates, text: str) -> None:
        """Put ``text`` at the first candidate centre whose box is free; Reject when none is."""
        for center in candidates:
            box = _box(center, text)
            if self.free(box):
                self.labels.append((box, center, text))
                return
        raise Reject(f"no room for label {text!r}")


def _check_spacing(fig: Figure, cv: _Canvas) -> None:
    names = list(fig.points)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if math.dist(cv.px[a], cv.px[b]) < MIN_POINT_GAP * SS:
                raise Reject(f"points {a} and {b} crowd together")
    for (a, b), (p, q) in zip(fig.segments, cv.segments, strict=True):
        if math.dist(p, q) < 2 * MIN_POINT_GAP * SS:
            raise Reject(f"segment {a}{b} too short")
        for n in names:
            if n in (a, b):
                continue
            d = _point_segment_distance(cv.px[n], p, q)
            if 0.5 * SS < d < 6 * SS:  # near, but not on, a line: it would look like it is on it
                raise Reject(f"point {n} nearly touches {a}{b}")


def _incident_directions(fig: Figure, cv: _Canvas, name: str) -> list[tuple[float, float]]:
    """Directions (in pixels) of every line leaving the point: segments ending or passing there, circles through it."""
    p = cv.px[name]
    dirs = []
    for (a, b), (pa, pb) in zip(fig.segments, cv.segments, strict=True):
        if name == a:
            dirs.append(_dir(p, pb))
        elif name == b:
            dirs.append(_dir(p, pa))
        elif _point_segment_distance(p, pa, pb) < 0.5 * SS:
            dirs += [_dir(p, pa), _dir(p, pb)]
    for c, r in cv.circles:
        if abs(math.dist(c, p) - r) < SS:
            ux, uy = _dir(c, p)
            dirs += [(-uy, ux), (uy, -ux)]
    return dirs


def _point_label_candidates(fig: Figure, cv: _Canvas, name: str):
    p = cv.px[name]
    dirs = _incident_directions(fig, cv, name)
    cx = sum(x for x, _ in cv.px.values()) / len(cv.px)
    cy = sum(y for _, y in cv.px.values()) / len(cv.px)
    away = _dir((cx, cy), p) if math.dist((cx, cy), p) > 1 else (0.0, -1.0)
    scored = []
    for i in range(16):
        u = (math.cos(i * math.pi / 8), math.sin(i * math.pi / 8))
        gap = min((math.acos(max(-1.0, min(1.0, u[0] * d[0] + u[1] * d[1]))) for d in dirs), default=math.pi)
        # widest gap first; among equal gaps, the direction pointing away from the figure reads best
        scored.append((-round(gap, 3), -(u[0] * away[0] + u[1] * away[1]), i, u))
    scored.sort()
    box0 = _box((0, 0), name)
    for *_, u in scored:
        for extra in (4, 9):
            r = extra * SS + _support(box0, u)
            yield p[0] + u[0] * r, p[1] + u[1] * r


def _arc_candidates(cv: _Canvas, v, pa, pb, text: str, radius: float):
    u1, u2 = _dir(v, pa), _dir(v, pb)
    bis = (u1[0] + u2[0], u1[1] + u2[1])
    n = math.hypot(*bis)
    u = (bis[0] / n, bis[1] / n) if n > 1e-9 else (-u1[1], u1[0])
    half = math.acos(max(-1.0, min(1.0, u1[0] * u2[0] + u1[1] * u2[1]))) / 2
    box0 = _box((0, 0), text)
    # far enough out along the bisector that the box clears both rays
    w, h = (box0[2] - box0[0]) / 2, (box0[3] - box0[1]) / 2
    base = max(radius + 3 * SS + _support(box0, u), math.hypot(w, h) / max(math.sin(half), 0.2))
    for f in (1.0, 1.25, 1.5, 1.9):
        yield v[0] + u[0] * base * f, v[1] + u[1] * base * f


def _draw_arc(draw, v, pa, pb, radius: float) -> None:
    a1 = math.degrees(math.atan2(pa[1] - v[1], pa[0] - v[0])) % 360
    a2 = math.degrees(math.atan2(pb[1] - v[1], pb[0] - v[0])) % 360
    start, end = (a1, a2) if (a2 - a1) % 360 <= 180 else (a2, a1)
    box = (v[0] - radius, v[1] - radius, v[0] + radius, v[1] + radius)
    draw.arc(box, start, end if end > start else end + 360, fill=0, width=LINE - 1)


def _draw_marks(draw, fig: Figure, cv: _Canvas) -> None:
    px = cv.px
    n_equal = 0
    for fact in fig.facts:
        kind = fact[0]
        if kind == "equal":
            n_equal += 1
            for a, b in fact[1:]:
                p, q = px[a], px[b]
                u = _dir(p, q)
                nrm = (-u[1], u[0])
                m = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
                for j in range(n_equal):
                    off = (j - (n_equal - 1) / 2) * 4 * SS
                    c = (m[0] + u[0] * off, m[1] + u[1] * off)
                    draw.line(
                        [
                            (c[0] - nrm[0] * 5 * SS, c[1] - nrm[1] * 5 * SS),
                            (c[0] + nrm[0] * 5 * SS, c[1] + nrm[1] * 5 * SS),
                        ],
                        fill=0,
                        width=LINE - 1,
                    )
        elif kind == "parallel":
            ref = _dir(px[fact[1]], px[fact[2]])
            for a, b in (fact[1:3], fact[3:5]):
                u = _dir(px[a], px[b])
                if u[0] * ref[0] + u[1] * ref[1] < 0:
                    u = (-u[0], -u[1])
                m = ((px[a][0] + px[b][0]) / 2, (px[a][1] + px[b][1]) / 2)
                for sgn in (1, -1):
                    back = (
                        u[0] * math.cos(math.radians(28)) - sgn * u[1] * math.sin(math.radians(28)),
                        u[1] * math.cos(math.radians(28)) + sgn * u[0] * math.sin(math.radians(28)),
                    )
                    draw.line([m, (m[0] - back[0] * 8 * SS, m[1] - back[1] * 8 * SS)], fill=0, width=LINE - 1)
        elif kind == "right":
            v = px[fact[2]]
            u, w = _dir(v, px[fact[1]]), _dir(v, px[fact[3]])
            s = 8 * SS
            draw.line(
                [
                    (v[0] + u[0] * s, v[1] + u[1] * s),
                    (v[0] + (u[0] + w[0]) * s, v[1] + (u[1] + w[1]) * s),
                    (v[0] + w[0] * s, v[1] + w[1] * s),
                ],
                fill=0,
                width=LINE - 1,
            )


def render(fig: Figure) -> bytes:
    """The figure as PNG bytes (grayscale, 200-360 px wide); raises Reject when it would not read cleanly."""
    cv = _Canvas(fig)
    _check_spacing(fig, cv)
    img = Image.new("L", cv.size, 255)
    draw = ImageDraw.Draw(img)
    for c, r in cv.circles:
        draw.ellipse((c[0] - r, c[1] - r, c[0] + r, c[1] + r), outline=0, width=LINE)
    for p, q in cv.segments:
        draw.line([p, q], fill=0, width=LINE)
    _draw_marks(draw, fig, cv)
    for pa, v, pb, text in fig.arcs:
        if angle_at(fig.points[pa], fig.points[v], fig.points[pb]) < 12:
            raise Reject(f"angle {pa}{v}{pb} too small to mark")
        radius = (ARC_RADIUS if text else ARC_RADIUS - 3) * SS
        _draw_arc(draw, cv.px[v], cv.px[pa], cv.px[pb], radius)
        if text:
            cv.place(_arc_candidates(cv, cv.px[v], cv.px[pa], cv.px[pb], text, radius), text)
    for a, b, text in fig.lengths:
        p, q = cv.px[a], cv.px[b]
        u = _dir(p, q)
        nrm = (-u[1], u[0])
        cx = sum(x for x, _ in cv.px.values()) / len(cv.px)
        cy = sum(y for _, y in cv.px.values()) / len(cv.px)
        outward = 1 if (nrm[0] * ((p[0] + q[0]) / 2 - cx) + nrm[1] * ((p[1] + q[1]) / 2 - cy)) >= 0 else -1
        box0 = _box((0, 0), text)
        cands = []
        for t in (0.5, 0.38, 0.62):
            m = (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))
            for side in (outward, -outward):
                r = 4 * SS + _support(box0, nrm)
                cands.append((m[0] + side * nrm[0] * r, m[1] + side * nrm[1] * r))
        cv.place(cands, text)
    for name in fig.points:
        if not name.startswith("_"):
            cv.place(_point_label_candidates(fig, cv, name), name)
    for _, center, text in cv.labels:
        draw.text(center, text, fill=0, font=_font(), anchor="mm")
    out = img.reduce(SS)
    buf = io.BytesIO()
    out.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()
