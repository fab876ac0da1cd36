"""Training the neural renderer against the exact renderer, resumably.

Strokes are drawn on the fly by `raster.render_patch` from uniformly random normalised
parameters; a fixed, seeded held-out set measures fidelity (PSNR and SSIM of foreground and
alpha). Checkpoints hold the model, the optimiser, the schedule and the data generator, so a run
stopped at any point continues exactly where it left off.
"""

from __future__ import annotations

import io
import json
import math
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from pytorch_msssim import ssim

from brushwork import brushes, raster
from brushwork.device import resolve_device
from brushwork.errors import BrushworkError
from brushwork.files import atomic_write
from brushwork.neural import layout
from brushwork.neural.model import NeuralRenderer

VALIDATION_SEED = 20261121


@dataclass
class TrainConfig:
    kind: str
    size: int = 32
    hidden: int = 16
    pathways: str = "dual"
    steps: int = 1500
    batch: int = 64
    lr: float = 3e-3
    warmup: int = 100
    seed: int = 0
    validation: int = 512
    eval_every: int = 250


@dataclass
class Fidelity:
    psnr_foreground: float
    psnr_alpha: float
    ssim_foreground: float
    ssim_alpha: float

    @property
    def psnr(self) -> float:
        return (self.psnr_foreground + self.psnr_alpha) / 2


@dataclass
class TrainState:
    step: int = 0
    seconds: float = 0.0
    history: list[dict] = field(default_factory=list)


def draw_targets(kind: str, v: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground truth for normalised parameters: (N, 3, S, S) premultiplied colour, (N, 1, S, S) alpha,
    on v's device (cairo draws them on the CPU)."""
    patches = [raster.render_patch(s, size) for s in layout.to_strokes(kind, v, size)]
    foreground = np.stack([p.premultiplied for p in patches]).transpose(0, 3, 1, 2)
    alpha = np.stack([p.alpha for p in patches])[:, None]
    return torch.from_numpy(foreground).to(v.device), torch.from_numpy(alpha).to(v.device)


def validation_set(kind: str, size: int, count: int,
                   device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed held-out strokes (same for every run of a kind and device, never trained on), on `device`
    (default: the CPU)."""
    generator = torch.Generator(device="cpu").manual_seed(VALIDATION_SEED + len(kind))
    v = layout.sample(kind, count, generator).to(device or "cpu")
    return (v, *draw_targets(kind, v, size))


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> float:
    mse = torch.mean((prediction - target) ** 2).item()
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


@torch.no_grad()
def evaluate(model: NeuralRenderer, validation, batch: int = 256) -> Fidelity:
    v, foreground, alpha = validation
    predicted = [model(v[i:i + batch]) for i in range(0, len(v), batch)]
    fg = torch.cat([p[0] for p in predicted])
    al = torch.cat([p[1] for p in predicted])
    with torch.device(fg.device):  # pytorch_msssim makes its Gaussian window on torch's default device
        return Fidelity(
            psnr_foreground=psnr(fg, foreground),
            psnr_alpha=psnr(al, alpha),
            ssim_foreground=float(ssim(fg, foreground, data_range=1.0, win_size=7)),
            ssim_alpha=float(ssim(al, alpha, data_range=1.0, win_size=7)),
        )


def _schedule(config: TrainConfig) -> Callable[[int], float]:
    """Linear warm-up, then cosine decay to 2 % of the peak learning rate."""
    def factor(step: int) -> float:
        if step < config.warmup:
            return (step + 1) / config.warmup
        progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def _save_checkpoint(path: Path, config: TrainConfig, model, optimiser, generator, state: TrainState) -> None:
    buffer = io.BytesIO()
    torch.save(
        {
            "config": asdict(config),
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "generator": generator.get_state(),
            "state": asdict(state),
        },
        buffer,
    )
    atomic_write(path, buffer.getvalue())


CHECKPOINT_KEYS = ("config", "model", "optimiser", "generator", "state")


def _load_checkpoint(path: Path) -> dict:
    """The saved training run at `path`. Loaded with weights_only (tensors and plain data only: a
    checkpoint must never run code), and any failure becomes one line naming the file, not torch's
    paragraphs, which end by advising weights_only=False."""
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on the way to refusing
            warnings.simplefilter("ignore")
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError (not a zip), EOFError, OSError, ...
        raise _not_a_checkpoint(path, exc) from None
    if not isinstance(saved, dict) or not all(key in saved for key in CHECKPOINT_KEYS):
        found = ", ".join(map(str, saved)) if isinstance(saved, dict) else type(saved).__name__
        raise BrushworkError(f"{path}: not a renderer checkpoint brushwork can resume (it holds {found}, not "
                             f"{', '.join(CHECKPOINT_KEYS)}); use another checkpoint path, or remove it to start over")
    return saved


def _not_a_checkpoint(path: Path, exc: BaseException) -> BrushworkError:
    lines = str(exc).strip().splitlines()
    reason = lines[0][:160] if lines else type(exc).__name__
    if "weights_only" in reason.lower() or "weights only" in reason.lower():
        reason = "it holds more than tensors and plain data, so it is not loaded"
    return BrushworkError(f"{path}: not a renderer checkpoint brushwork can resume ({reason}); "
                          "use another checkpoint path, or remove it to start over")


def train(
    config: TrainConfig,
    checkpoint: Path,
    *,
    max_seconds: float | None = None,
    log: Callable[[str], None] = print,
    device: str = "auto",
) -> tuple[NeuralRenderer, TrainState, Fidelity]:
    """Train (or resume from `checkpoint`) on `device` (a `brushwork.device` name) until config.steps
    or max_seconds; returns the model (on that device), the training state and its held-out fidelity.
    The training strokes come from a CPU generator, so a run draws the same strokes on any device."""
    where = resolve_device(device)
    torch.manual_seed(config.seed)
    with torch.device("cpu"):  # initialised from the CPU's generator (the same weights on any device), then moved
        model = NeuralRenderer(config.kind, config.size, config.hidden, config.pathways)
    model.to(where)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    state = TrainState()
    if checkpoint.exists():
        saved = _load_checkpoint(checkpoint)
        if saved["config"] != asdict(config):
            raise ValueError(
                f"{checkpoint} was made with another configuration {saved['config']}; "
                "use another checkpoint path or the same options"
            )
        try:
            model.load_state_dict(saved["model"])
            optimiser.load_state_dict(saved["optimiser"])
            generator.set_state(saved["generator"])
            state = TrainState(**saved["state"])
        except (RuntimeError, TypeError, ValueError, KeyError) as exc:  # right keys, wrong contents
            raise _not_a_checkpoint(checkpoint, exc) from None
        log(f"resumed {config.kind} at step {state.step}")
    factor = _schedule(config)
    validation = validation_set(config.kind, config.size, config.validation, where)
    started = time.perf_counter()
    session_start = state.seconds
    while state.step < config.steps:
        for group in optimiser.param_groups:
            group["lr"] = config.lr * factor(state.step)
        v = layout.sample(config.kind, config.batch, generator).to(where)
        foreground, alpha = draw_targets(config.kind, v, config.size)
        predicted_fg, predicted_alpha = model(v)
        loss = torch.mean((predicted_fg - foreground) ** 2) + torch.mean((predicted_alpha - alpha) ** 2)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        state.step += 1
        state.seconds = session_start + time.perf_counter() - started
        out_of_time = max_seconds is not None and time.perf_counter() - started > max_seconds
        if state.step % config.eval_every == 0 or state.step == config.steps or out_of_time:
            fidelity = evaluate(model, validation)
            state.history.append({"step": state.step, "seconds": round(state.seconds, 1),
                                  "loss": loss.item(), **asdict(fidelity)})
            log(f"{config.kind} step {state.step}/{config.steps} {state.seconds:.0f}s loss {loss.item():.5f} "
                f"psnr fg {fidelity.psnr_foreground:.2f} alpha {fidelity.psnr_alpha:.2f} "
                f"ssim fg {fidelity.ssim_foreground:.4f}")
            _save_checkpoint(checkpoint, config, model, optimiser, generator, state)
        if out_of_time:
            break
    return model, state, evaluate(model, validation)


def environment(device: torch.device | None = None) -> dict:
    """Where a renderer was trained: torch, threads, machine, Python and the device (with the GPU's
    name on CUDA)."""
    device = device or torch.device("cpu")
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "device": f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else device.type,
    }


def card_figures(model: NeuralRenderer, config: TrainConfig, state: TrainState, fidelity: Fidelity) -> dict:
    return {
        **model.config(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": state.step,
        "batch": config.batch,
        "train_seconds": round(state.seconds, 1),
        "validation_strokes": config.validation,
        **{k: round(v, 4) for k, v in asdict(fidelity).items()},
        "psnr": round(fidelity.psnr, 4),
        "environment": environment(next(model.parameters()).device),
        "history": state.history,  # held-out figures along the way: how the step count was chosen
    }


def export(model: NeuralRenderer, figures: dict, directory: Path, command: str, notes: str = "") -> None:
    """Write the shipped files of one kind: renderer.pt (config + weights), card.json, card.md."""
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    weights = {name: tensor.cpu() for name, tensor in model.state_dict().items()}  # loadable anywhere
    torch.save({"config": model.config(), "state_dict": weights}, buffer)
    atomic_write(directory / "renderer.pt", buffer.getvalue())
    figures = {**figures, "command": command}
    atomic_write(directory / "card.json", (json.dumps(figures, indent=1) + "\n").encode())
    atomic_write(directory / "card.md", _card_markdown(figures, notes).encode())


def _card_markdown(f: dict, notes: str) -> str:
    coordinates = brushes.get(f["kind"]).neural_coordinates
    env = f["environment"]
    trained_on = (f"{env['machine']} ({env.get('device', 'cpu')}), {env['threads']} CPU threads, "
                  f"torch {env['torch']}")
    return f"""# Neural renderer: {f['kind']}

Dual-pathway renderer (after Stylized Neural Painting): a rasterization generator (shape
parameters -> mask) and a shading generator (all parameters -> colour), fused into
alpha = opacity x mask and foreground = shading x alpha. Both are coordinate networks: a
parameter-free, differentiable encoder gives each pixel its coordinates relative to the stroke
({coordinates}),
and per-pixel MLPs ({f['hidden']} hidden units, 2 hidden layers, SiLU) decode them.

| figure | value |
|---|---|
| output size S | {f['size']} x {f['size']} |
| parameters | {f['parameters']:,} |
| training steps | {f['steps']:,} (batch {f['batch']}) |
| training time | {f['train_seconds']:.0f} s on {trained_on} |
| held-out strokes | {f['validation_strokes']} (fixed seed) |
| PSNR foreground / alpha / mean | {f['psnr_foreground']:.2f} / {f['psnr_alpha']:.2f} / {f['psnr']:.2f} dB |
| SSIM foreground / alpha | {f['ssim_foreground']:.4f} / {f['ssim_alpha']:.4f} |

Foreground is premultiplied colour (colour x alpha), as `raster.render_patch` draws it; PSNR is
over all pixels of the held-out set, values in 0..1.

Reproduce:

```
{f['command']}
```
{notes}
"""
