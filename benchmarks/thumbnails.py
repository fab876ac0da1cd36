"""What a PSNR means in detail: each photo reduced to a thumbnail and enlarged back.

    python benchmarks/thumbnails.py [--images tubingen.jpg,...] [--widths 32,48,64,96,128,160]
                                    [--working-size 512] [--device auto|cpu|cuda|mps]

A painting of N strokes that scores as high as a thumbnail of P pixels carries as much of the
photo, in the squared-error sense, as P colour samples: P / N samples per stroke. The thumbnail is
the photo averaged over blocks (area resampling) and enlarged back with bicubic interpolation, both
at the working size (long side) that benchmarks/paint.py measures at. Printed per image and width:
the thumbnail's size, its colour samples, and its PSNR against the photo. --device picks where the
resampling runs (the header names it); the figures do not depend on it beyond rounding.
"""

import argparse
import math

import numpy as np
import torch
import torch.nn.functional as F

from brushwork.images import load_image, resize, to_tensor

from device_clock import add_device_option, describe, device_from
from paint import IMAGES  # the photos benchmarks/paint.py paints


def thumbnail_psnr(photo: np.ndarray, width: int, device: torch.device) -> tuple[int, float]:
    """(height, PSNR in dB) of `photo` reduced to `width` pixels wide and enlarged back."""
    picture = to_tensor(photo, device)
    h, w = picture.shape[-2:]
    height = max(1, round(width * h / w))
    small = F.interpolate(picture, size=(height, width), mode="area")
    back = F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    mse = float(((back - picture) ** 2).mean())
    return height, 10 * math.log10(1 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", help="comma list of photos in ../shared/images/content (default: all)")
    parser.add_argument("--widths", default="32,40,48,64,80,96,128,160")
    parser.add_argument("--working-size", type=int, default=512)
    add_device_option(parser)
    args = parser.parse_args()
    device = device_from(args)
    print(f"device {describe(device)}")
    print(f"{'image':<14}{'thumbnail':>11}{'samples':>9}{'PSNR':>8}")
    for name in args.images.split(",") if args.images else sorted(p.name for p in IMAGES.iterdir()):
        photo = load_image(IMAGES / name)
        scale = args.working_size / max(photo.shape[:2])
        working = resize(photo, round(photo.shape[1] * scale), round(photo.shape[0] * scale))
        for width in (int(w) for w in args.widths.split(",")):
            height, psnr = thumbnail_psnr(working, width, device)
            print(f"{name:<14}{f'{width}x{height}':>11}{width * height:>9}{psnr:>8.2f}")


if __name__ == "__main__":
    main()
