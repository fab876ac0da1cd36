"""Neural renderers: size, held-out fidelity against `raster`, and speed for 256 strokes.

    python benchmarks/renderer.py [--strokes 256] [--repeats 5] [--validation 512]

Per shipped kind: parameters, PSNR/SSIM of foreground and alpha on the fixed held-out set, and the
median wall time of a forward and of a forward + backward pass for a batch of strokes (plus the
CPU time of the latter, which a busy machine inflates less).
"""

import argparse
import statistics
import time

import torch

from brushwork import renderers
from brushwork.neural import layout
from brushwork.neural.train import evaluate, validation_set
from brushwork.strokes import BRUSHES


def median_time(fn, repeats: int, clock=time.perf_counter) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--validation", type=int, default=512)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'kind':<11}{'S':>4}{'params':>8}{'PSNR fg':>9}{'alpha':>7}{'mean':>7}{'SSIM fg':>9}{'alpha':>8}"
          f"{'fwd s':>8}{'fwd+bwd s':>11}{'cpu s':>8}")
    for kind in BRUSHES:
        model = renderers.load(kind)
        fidelity = evaluate(model, validation_set(kind, model.size, args.validation))
        v = layout.sample(kind, args.strokes, torch.Generator().manual_seed(1))

        def forward(model=model, v=v):
            with torch.no_grad():
                model(v)

        def forward_backward(model=model, v=v):
            x = v.clone().requires_grad_()
            foreground, alpha = model(x)
            (foreground.sum() + alpha.sum()).backward()

        params = sum(p.numel() for p in model.parameters())
        print(f"{kind:<11}{model.size:>4}{params:>8,}{fidelity.psnr_foreground:>9.2f}{fidelity.psnr_alpha:>7.2f}"
              f"{fidelity.psnr:>7.2f}{fidelity.ssim_foreground:>9.4f}{fidelity.ssim_alpha:>8.4f}"
              f"{median_time(forward, args.repeats):>8.3f}{median_time(forward_backward, args.repeats):>11.3f}"
              # CPU seconds of forward + backward (all threads): stable on a busy, shared machine
              f"{median_time(forward_backward, args.repeats, time.process_time):>8.3f}")


if __name__ == "__main__":
    main()
