"""Neural renderers: size, held-out fidelity against `raster`, and speed for 256 strokes.

    python benchmarks/renderer.py [--strokes 256] [--repeats 5] [--validation 512] [--device auto|cpu|cuda|mps]

Per shipped kind: parameters, PSNR/SSIM of foreground and alpha on the fixed held-out set, and the
median wall time of a forward and of a forward + backward pass for a batch of strokes (plus the
CPU time of the latter, which a busy machine inflates less). --device picks where the renderers and the
strokes live (the header names it); every pass is timed after one untimed warm-up pass, with the clock
read once the device has finished.
"""

import argparse
import statistics

import torch

from brushwork import renderers
from brushwork.neural import layout
from brushwork.neural.train import evaluate, validation_set
from brushwork.strokes import BRUSHES

from device_clock import Stopwatch, add_device_option, describe, device_from


def median_times(fn, repeats: int, device: torch.device) -> tuple[float, float]:
    """Median wall and process-CPU seconds of `fn()` over `repeats` runs, after one untimed run."""
    fn()  # warm-up
    clocks = []
    for _ in range(repeats):
        with Stopwatch(device) as clock:
            fn()
        clocks.append(clock)
    return statistics.median(c.seconds for c in clocks), statistics.median(c.cpu_seconds for c in clocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--validation", type=int, default=512)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    add_device_option(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = device_from(args)
    print(f"torch {torch.__version__}, device {describe(device)}; times: medians of {args.repeats} runs after one "
          "untimed warm-up run")
    print(f"{'kind':<11}{'S':>4}{'params':>8}{'PSNR fg':>9}{'alpha':>7}{'mean':>7}{'SSIM fg':>9}{'alpha':>8}"
          f"{'fwd s':>8}{'fwd+bwd s':>11}{'cpu s':>8}")
    for kind in BRUSHES:
        model = renderers.load(kind, device=device)
        held_out = tuple(t.to(device) for t in validation_set(kind, model.size, args.validation))
        fidelity = evaluate(model, held_out)
        v = layout.sample(kind, args.strokes, torch.Generator().manual_seed(1)).to(device)

        def forward(model=model, v=v):
            with torch.no_grad():
                model(v)

        def forward_backward(model=model, v=v):
            x = v.clone().requires_grad_()
            foreground, alpha = model(x)
            (foreground.sum() + alpha.sum()).backward()

        params = sum(p.numel() for p in model.parameters())
        forward_s, _ = median_times(forward, args.repeats, device)
        # CPU seconds of forward + backward (all threads): stable on a busy, shared machine
        backward_s, backward_cpu_s = median_times(forward_backward, args.repeats, device)
        print(f"{kind:<11}{model.size:>4}{params:>8,}{fidelity.psnr_foreground:>9.2f}{fidelity.psnr_alpha:>7.2f}"
              f"{fidelity.psnr:>7.2f}{fidelity.ssim_foreground:>9.4f}{fidelity.ssim_alpha:>8.4f}"
              f"{forward_s:>8.3f}{backward_s:>11.3f}{backward_cpu_s:>8.3f}")


if __name__ == "__main__":
    main()
