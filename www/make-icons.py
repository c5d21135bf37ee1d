#!/usr/bin/env python3
"""Draws the app icons (the design of www/icon.svg) as PNGs with the standard library only.

Run from anywhere: `python3 www/make-icons.py`. Writes www/icons/icon-192.png, icon-512.png (rounded
square, transparent corners) and icon-maskable-512.png (full-bleed background, the glyph inside
the central 80 % safe zone that platforms may crop to a circle). The PNGs are committed; this
script exists so they can be redrawn when the design changes.
"""
import os
import struct
import zlib

ACCENT = (0x2F, 0x6F, 0xDE)
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 3  # supersampling per axis, for smooth edges


def in_round_rect(x, y, x0, y0, x1, y1, r):
    if x < x0 or x > x1 or y < y0 or y > y1:
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def in_triangle(x, y, a, b, c):
    def side(p, q):
        return (x - q[0]) * (p[1] - q[1]) - (p[0] - q[0]) * (y - q[1])
    d1, d2, d3 = side(a, b), side(b, c), side(c, a)
    neg = d1 < 0 or d2 < 0 or d3 < 0
    pos = d1 > 0 or d2 > 0 or d3 > 0
    return not (neg and pos)


def glyph(x, y):
    """Colour of the 64x64 design at (x, y) inside the background: None, white or accent."""
    bubble = in_round_rect(x, y, 12, 18, 52, 44, 4) or in_triangle(x, y, (20, 43), (30, 43), (20, 52))
    if not bubble:
        return None
    for cx in (24, 32, 40):
        if (x - cx) ** 2 + (y - 31) ** 2 <= 9:
            return ACCENT
    return WHITE


def pixel(x, y, maskable):
    """RGBA of the design at design coordinates (0..64)."""
    if maskable:
        # Full bleed; the glyph scaled to 75 % around the centre stays in the safe zone.
        gx, gy = 32 + (x - 32) / 0.75, 32 + (y - 32) / 0.75
        return glyph(gx, gy) or ACCENT, 255
    if not in_round_rect(x, y, 0, 0, 64, 64, 14):
        return (0, 0, 0), 0
    return glyph(x, y) or ACCENT, 255


def render(size, maskable):
    rows = []
    scale = 64.0 / size
    for py in range(size):
        row = bytearray([0])
        for px in range(size):
            r = g = b = a = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px + (sx + 0.5) / SAMPLES) * scale
                    y = (py + (sy + 0.5) / SAMPLES) * scale
                    (cr, cg, cb), ca = pixel(x, y, maskable)
                    r += cr * ca
                    g += cg * ca
                    b += cb * ca
                    a += ca
            n = SAMPLES * SAMPLES
            if a:
                row += bytes((r // a, g // a, b // a, a // n))
            else:
                row += bytes((0, 0, 0, 0))
        rows.append(bytes(row))
    return png(size, b"".join(rows))


def png(size, raw):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "icons")
    for name, size, maskable in (("icon-192.png", 192, False), ("icon-512.png", 512, False),
                                 ("icon-maskable-512.png", 512, True)):
        with open(os.path.join(here, name), "wb") as out:
            out.write(render(size, maskable))


if __name__ == "__main__":
    main()
