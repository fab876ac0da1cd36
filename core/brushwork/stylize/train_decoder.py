"""Training the AdaIN decoder with AdaIN's objective (Huang & Belongie 2017), resumably.

The Collaborative Distillation decoders were trained to reconstruct encoder features, not to decode
AdaIN-transformed ones, so AdaIN through them keeps the photo and loses the style. This trains the
level-4 decoder g for the level-4 encoder f the way the paper does: t = AdaIN(f(c), f(s)),

    loss = ‖f(g(t)) − t‖²  +  λ Σ_{i=1..4} ‖μ(φ_i(g(t))) − μ(φ_i(s))‖² + ‖σ(φ_i(g(t))) − σ(φ_i(s))‖²

with φ_i the encoder's relu{i}_1 taps. It starts from the reconstruction decoder (same layout), so it
converges in hundreds of steps on a CPU rather than the paper's 160,000 on a GPU. Crops are drawn on
the fly (random scale, position and flip) from a few dozen images held in memory; checkpoints hold
the decoder, the optimiser, the step and the crop generator, so a stopped run continues exactly.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from brushwork.device import resolve_device
from brushwork.errors import BrushworkError
from brushwork.files import atomic_write
from brushwork.neural.train import environment
from brushwork.stylize.models import CD16xModels, Net, cd16x_decoder_ops
from brushwork.stylize.training import TrainState, cosine_lr, image_files, load_pool, random_crops, read_checkpoint
from brushwork.stylize.transforms import ADAIN_EPS

LEVEL = 4


@dataclass
class DecoderConfig:
    # the shipped decoder's recipe (its card has the held-out curve)
    steps: int = 500
    batch: int = 4
    size: int = 192
    lr: float = 1e-4
    style_weight: float = 10.0
    seed: int = 0
    eval_every: int = 100


@dataclass(frozen=True)
class Losses:
    content: float
    style: float
    total: float


def _mean_std(feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mean and standard deviation over the spatial positions: (B, C) each."""
    flat = feat.flatten(2)
    return flat.mean(2), torch.sqrt(flat.var(2, unbiased=False) + ADAIN_EPS)


def batch_adain(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """AdaIN of each content feature map against the style feature map at the same batch index."""
    c_mean, c_std = _mean_std(content)
    s_mean, s_std = _mean_std(style)
    return (content - c_mean[..., None, None]) / c_std[..., None, None] * s_std[..., None, None] \
        + s_mean[..., None, None]


def adain_losses(encoder: Net, decoder: Net, content: torch.Tensor, style: torch.Tensor,
                 style_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, content, style) losses of decoding AdaIN(content, style) as in Huang & Belongie."""
    taps = [str(i) for i in range(1, LEVEL + 1)]
    with torch.no_grad():
        style_taps = encoder(style, taps)
        assert isinstance(style_taps, dict)
        target = batch_adain(encoder(content), style_taps[str(LEVEL)])
    output = decoder(target)
    output_taps = encoder(output, taps)
    assert isinstance(output_taps, dict)
    content_loss = F.mse_loss(output_taps[str(LEVEL)], target)
    style_loss = torch.zeros((), device=content.device)
    for tap in taps:
        o_mean, o_std = _mean_std(output_taps[tap])
        s_mean, s_std = _mean_std(style_taps[tap])
        style_loss = style_loss + F.mse_loss(o_mean, s_mean) + F.mse_loss(o_std, s_std)
    return content_loss + style_weight * style_loss, content_loss, style_loss


@dataclass
class Data:
    """Content and style images in memory, and which styles are held out from training."""

    content: list[torch.Tensor]
    styles: list[torch.Tensor]
    held_out: list[torch.Tensor]
    style_names: list[str]
    held_out_names: list[str]
    content_names: list[str]

    @classmethod
    def load(cls, content: Sequence[str | Path], styles: Sequence[str | Path], hold_out: Sequence[str],
             size: int) -> Data:
        content_paths = image_files(content, "--content")
        style_paths = image_files(styles, "--styles")
        unknown = [name for name in hold_out if name not in {p.stem for p in style_paths}]
        if unknown:
            raise BrushworkError(f"--hold-out {', '.join(unknown)}: not among the style images "
                                 f"({', '.join(p.stem for p in style_paths)})")
        train_paths = [p for p in style_paths if p.stem not in hold_out]
        held_paths = [p for p in style_paths if p.stem in hold_out]
        if not train_paths:
            raise BrushworkError("--hold-out: every style image is held out; at least one must be trained on")
        return cls(load_pool(content_paths, size), load_pool(train_paths, size), load_pool(held_paths, size),
                   [p.stem for p in train_paths], [p.stem for p in held_paths], [p.stem for p in content_paths])


def validation_losses(encoder: Net, decoder: Net, content: torch.Tensor, styles: Sequence[torch.Tensor],
                      style_weight: float) -> Losses:
    """Mean losses of every fixed content crop against every style in `styles`, without gradients."""
    totals = []
    with torch.no_grad():
        for style in styles:
            batch = style[None].expand(len(content), -1, -1, -1)
            total, c, s = adain_losses(encoder, decoder, content, batch, style_weight)
            totals.append((c.item(), s.item(), total.item()))
    c, s, t = (sum(v) / len(totals) for v in zip(*totals, strict=True))
    return Losses(c, s, t)


def _centre_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    scale = size / min(image.shape[-2:])
    height, width = (max(size, round(n * scale)) for n in image.shape[-2:])
    image = F.interpolate(image[None], size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    y, x = (height - size) // 2, (width - size) // 2
    return image[0, :, y:y + size, x:x + size]


CHECKPOINT_KEYS = ("config", "decoder", "optimiser", "generator", "state")


def train(config: DecoderConfig, data: Data, checkpoint: Path, *, models: CD16xModels | None = None,
          device: str = "auto", max_seconds: float | None = None,
          log: Callable[[str], None] = print,
          progress: Callable[[TrainState, Losses], None] | None = None) -> tuple[Net, TrainState]:
    """Train (or resume from `checkpoint`) until config.steps or max_seconds; returns the decoder (on the
    device) and the state. Crops come from a CPU generator, so a run draws the same crops anywhere."""
    where = resolve_device(device)
    models = models or CD16xModels()
    encoder = models.encoder(LEVEL, where)
    # A fresh copy of the reconstruction decoder to fine-tune (the cached one stays as it is).
    path, state_dict = models.load(f"{LEVEL}SD")
    decoder = Net(cd16x_decoder_ops(LEVEL), state_dict, source=str(path), device=where)
    decoder.requires_grad_(True).train()
    optimiser = torch.optim.Adam(decoder.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    state = TrainState()
    if checkpoint.exists():
        saved = read_checkpoint(checkpoint, CHECKPOINT_KEYS, "decoder checkpoint brushwork can resume")
        if saved["config"] != asdict(config):
            raise BrushworkError(f"--checkpoint {checkpoint} was made with other options {saved['config']}; use "
                                 "another checkpoint path or the same options")
        decoder.load_state_dict(saved["decoder"])
        optimiser.load_state_dict(saved["optimiser"])
        generator.set_state(saved["generator"])
        state = TrainState(**saved["state"])
        log(f"resumed at step {state.step}")
    validation_content = torch.stack([_centre_crop(image, config.size) for image in data.content[:8]]).to(where)
    validation_styles = [_centre_crop(image, config.size).to(where) for image in data.styles]
    held_styles = [_centre_crop(image, config.size).to(where) for image in data.held_out]
    started, session_start = time.perf_counter(), state.seconds
    while state.step < config.steps:
        for group in optimiser.param_groups:
            group["lr"] = cosine_lr(config.lr, state.step, config.steps)
        content = random_crops(data.content, config.batch, config.size, generator).to(where)
        style = random_crops(data.styles, config.batch, config.size, generator).to(where)
        total, content_loss, style_loss = adain_losses(encoder, decoder, content, style, config.style_weight)
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        optimiser.step()
        state.step += 1
        state.seconds = session_start + time.perf_counter() - started
        losses = Losses(content_loss.item(), style_loss.item(), total.item())
        if progress is not None:
            progress(state, losses)
        out_of_time = max_seconds is not None and time.perf_counter() - started > max_seconds
        if state.step % config.eval_every == 0 or state.step == config.steps or out_of_time:
            entry = {"step": state.step, "seconds": round(state.seconds, 1), "train": asdict(losses),
                     "validation": asdict(validation_losses(encoder, decoder, validation_content, validation_styles,
                                                            config.style_weight))}
            if held_styles:
                entry["held_out"] = asdict(validation_losses(encoder, decoder, validation_content, held_styles,
                                                             config.style_weight))
            state.history.append(entry)
            _save_checkpoint(checkpoint, config, decoder, optimiser, generator, state)
        if out_of_time:
            break
    decoder.requires_grad_(False).eval()
    return decoder, state


def _save_checkpoint(path: Path, config: DecoderConfig, decoder: Net, optimiser: torch.optim.Optimizer,
                     generator: torch.Generator, state: TrainState) -> None:
    buffer = io.BytesIO()
    torch.save({"config": asdict(config), "decoder": decoder.state_dict(), "optimiser": optimiser.state_dict(),
                "generator": generator.get_state(), "state": asdict(state)}, buffer)
    atomic_write(path, buffer.getvalue())


def export(decoder: Net, config: DecoderConfig, state: TrainState, data: Data, output: Path, command: str,
           notes: str = "") -> None:
    """Write the decoder as a cd16x-layout state dict (loads like `4SD.pth`) and its model card
    (`<name>.json`, `<name>.md`) beside it."""
    buffer = io.BytesIO()
    torch.save({key: tensor.detach().cpu().contiguous() for key, tensor in decoder.keyed_state().items()}, buffer)
    atomic_write(output, buffer.getvalue())
    figures = {
        "level": LEVEL, "parameters": sum(p.numel() for p in decoder.parameters()), **asdict(config),
        "train_seconds": round(state.seconds, 1), "environment": environment(next(decoder.parameters()).device),
        "content_images": data.content_names, "style_images": data.style_names,
        "held_out_styles": data.held_out_names, "command": command, "history": state.history,
    }
    atomic_write(output.with_suffix(".json"), (json.dumps(figures, indent=1) + "\n").encode())
    atomic_write(output.with_suffix(".md"), _card(figures, notes).encode())


def _card(f: dict, notes: str) -> str:
    last = f["history"][-1] if f["history"] else {}
    env = f["environment"]
    where = f"{env['machine']} ({env['device']}), {env['threads']} threads, torch {env['torch']}"

    def losses(key: str) -> str:
        entry = last.get(key)
        return f"{entry['content']:.3f} / {entry['style']:.4f}" if entry else "—"

    return f"""# AdaIN decoder (level 4, cd16x encoder)

Decodes AdaIN-transformed relu4_1 features of the Collaborative Distillation 16x-compressed VGG-19
level-4 encoder (`cd16x/4SE`) into an image. Trained with AdaIN's objective (Huang & Belongie 2017):
content loss ‖f(g(t)) − t‖² on the AdaIN target t plus λ = {f['style_weight']:g} times the mean/std style
losses over relu1_1–relu4_1, starting from the reconstruction decoder `cd16x/4SD` (same layout,
{f['parameters']:,} parameters). Licence: MIT, as brushwork (the starting weights are MIT, (c) 2020 Huan Wang).

| figure | value |
|---|---|
| steps | {f['steps']:,} (batch {f['batch']}, {f['size']} px crops, Adam lr {f['lr']:g} cosine-decayed) |
| training time | {f['train_seconds']:.0f} s on {where} |
| content images | {', '.join(f['content_images'])} |
| style images trained on | {', '.join(f['style_images'])} |
| style images held out | {', '.join(f['held_out_styles']) or 'none'} |
| final validation loss, trained styles (content / style) | {losses('validation')} |
| final validation loss, held-out styles (content / style) | {losses('held_out')} |

Validation: centre crops of the first eight content images against every style image, {f['size']} px.

Reproduce:

```
{f['command']}
```
{notes}
"""
