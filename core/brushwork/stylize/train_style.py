"""Training the styles `stylize --model` runs: Johnson's per-style network and the collection GAN.

* Johnson (perceptual losses, Johnson et al. 2016): the loss network is our own cd16x level-5 encoder
  (`Models.loss_network`), with the measures Gatys and the benchmark use (stylize/gatys.py): content
  ‖F4(y) − F4(x)‖² / ‖F4(x)‖² at relu4_1 and style Σ ‖G(y) − G(s)‖² / ‖G(s)‖² over relu1_1..relu5_1,
  against the style image at `style_size` px, plus a little total variation.
* Collection (stylize/collection.py): G and the Siamese D trained in turn, 2S×2S crops cut into four
  translated S×S tiles.

Crops come from images held in memory (train_decoder's pool: random scale, window and flip), drawn
from a CPU generator, so a run draws the same crops on any device. A checkpoint holds the networks,
optimisers, step, crop generator and loss history: a stopped run continues where it was.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from brushwork.device import resolve_device
from brushwork.errors import BrushworkError
from brushwork.files import atomic_write, save_png
from brushwork.images import fit_long_side, resize_tensor, to_array
from brushwork.losses import gram, gram_loss
from brushwork.neural.train import environment
from brushwork.painter.threads import load_aware_threads
from brushwork.stylize import trained
from brushwork.stylize.collection import (
    Discriminator,
    Generator,
    GeneratorShape,
    discriminator_loss,
    generator_loss,
    translate_seamed,
)
from brushwork.stylize.gatys import CONTENT_TAP, STYLE_TAPS
from brushwork.stylize.johnson import JohnsonNet, JohnsonShape
from brushwork.stylize.models import CD16xModels, Models
from brushwork.stylize.training import TrainState, cosine_lr, image_files, load_pool, random_crops, read_checkpoint

MIN_PAINTINGS = 2  # a collection of one painting is a single style: train a Johnson network for it
SAMPLE_SIDE = 256


@dataclass
class JohnsonConfig:
    steps: int = 2000
    batch: int = 4
    size: int = 256  # crop side, px
    style_size: int = 512  # the style image's long side when its Grams are taken
    lr: float = 2e-3
    style_weight: float = 3.0  # 10 (Gatys's) lets the style swamp the picture in a feed-forward network
    tv_weight: float = 1e-5
    # The last conv's learning rate, as a fraction of lr. It starts at zero and sums 9·9·width inputs, so
    # Adam's first steps (each weight moved by about lr, all the same way) swung every pixel by a whole
    # unit: the output left the picture for tens of steps (style loss 48 on the first 25) before coming back.
    output_lr_scale: float = 0.02
    skip: str = "centred"  # JohnsonShape.skip: the photo's mean colour is learned (see johnson.py)
    width: int = 16
    blocks: int = 5
    seed: int = 0
    sample_every: int = 100


@dataclass
class CollectionConfig:
    steps: int = 2000
    batch: int = 4
    tile: int = 64  # S: G sees S×S tiles, D 2S×2S images
    lr: float = 2e-4
    keep_weight: float = 1.0
    width: int = 32
    blocks: int = 4
    seed: int = 0
    sample_every: int = 100


Losses = dict[str, float]
Progress = Callable[[TrainState, Losses], None]


CHECKPOINT_KEYS = ("kind", "config", "nets", "optimisers", "generator", "state")


class _Session:
    """The networks, optimisers and crop generator of one run, saved to and resumed from a checkpoint."""

    def __init__(self, kind: str, config: JohnsonConfig | CollectionConfig, nets: dict[str, nn.Module],
                 optimisers: dict[str, torch.optim.Optimizer], checkpoint: Path, log: Callable[[str], None]):
        self.kind, self.config, self.nets, self.optimisers, self.checkpoint = kind, config, nets, optimisers, checkpoint
        self.generator = torch.Generator().manual_seed(config.seed)
        self.state = TrainState()
        if checkpoint.exists():
            saved = read_checkpoint(checkpoint, CHECKPOINT_KEYS, "train-style checkpoint")
            if saved["kind"] != kind or saved["config"] != asdict(config):
                raise BrushworkError(f"--checkpoint {checkpoint} was made by another run ({saved['kind']}, "
                                     f"{saved['config']}); use another checkpoint path or the same options")
            for name, net in nets.items():
                net.load_state_dict(saved["nets"][name])
            for name, optimiser in optimisers.items():
                optimiser.load_state_dict(saved["optimisers"][name])
            self.generator.set_state(saved["generator"])
            self.state = TrainState(**saved["state"])
            log(f"resumed {checkpoint} at step {self.state.step}")

    def save(self) -> None:
        buffer = io.BytesIO()
        torch.save({"kind": self.kind, "config": asdict(self.config),
                    "nets": {name: net.state_dict() for name, net in self.nets.items()},
                    "optimisers": {name: opt.state_dict() for name, opt in self.optimisers.items()},
                    "generator": self.generator.get_state(), "state": asdict(self.state)}, buffer)
        atomic_write(self.checkpoint, buffer.getvalue())

    def set_lr(self) -> None:
        """Cosine decay from lr to 5 % of it over the run."""
        lr = cosine_lr(self.config.lr, self.state.step, self.config.steps)
        for optimiser in self.optimisers.values():
            for group in optimiser.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)


def _loop(session: _Session, step: Callable[[], Losses], sample: Callable[[], np.ndarray],
          samples: Path | None, max_seconds: float | None, progress: Progress | None) -> TrainState:
    """Run `step` until config.steps (or max_seconds), recording mean losses, writing a sample image and
    saving the checkpoint every sample_every steps."""
    with load_aware_threads() as threads:  # on shared cores a team of torch threads waits for its slowest member
        session.state.threads = threads
        return _steps(session, step, sample, samples, max_seconds, progress)


def _steps(session: _Session, step: Callable[[], Losses], sample: Callable[[], np.ndarray],
           samples: Path | None, max_seconds: float | None, progress: Progress | None) -> TrainState:
    config, state = session.config, session.state
    started, before = time.perf_counter(), state.seconds
    window: list[Losses] = []
    while state.step < config.steps:
        session.set_lr()
        losses = step()
        window.append(losses)
        state.step += 1
        state.seconds = before + time.perf_counter() - started
        if progress is not None:
            progress(state, losses)
        out_of_time = max_seconds is not None and time.perf_counter() - started > max_seconds
        if state.step % config.sample_every == 0 or state.step == config.steps or out_of_time:
            state.history.append({"step": state.step, "seconds": round(state.seconds, 1),
                                  **{key: round(sum(w[key] for w in window) / len(window), 5) for key in window[0]}})
            window = []
            if samples is not None:
                samples.mkdir(parents=True, exist_ok=True)
                save_png(sample(), samples / f"step-{state.step:06d}.png")
            session.save()
        if out_of_time:
            break
    return state


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Torch's global generator seeded for the networks' initial weights, restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _sample_photo(pool: Sequence[torch.Tensor]) -> torch.Tensor:
    """The first content image at SAMPLE_SIDE px, cropped to multiples of 16 (the networks' strides)."""
    image = pool[0]
    small = resize_tensor(image[None], *fit_long_side(image.shape[-2], image.shape[-1], SAMPLE_SIDE)).clamp(0, 1)
    return small[..., :small.shape[-2] // 16 * 16, :small.shape[-1] // 16 * 16]


def _styled_targets(net: nn.Module, style: torch.Tensor) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        feats = net(style, STYLE_TAPS)
        return {tap: gram(feats[tap]) for tap in STYLE_TAPS}


def johnson_losses(loss_net: nn.Module, output: torch.Tensor, photos: torch.Tensor,
                   targets: dict[str, torch.Tensor], style_weight: float, tv_weight: float
                   ) -> tuple[torch.Tensor, Losses]:
    """Johnson's perceptual loss of `output` for `photos` (relative content and Gram losses, as
    gatys.measure) and its parts."""
    with torch.no_grad():
        reference = loss_net(photos, (CONTENT_TAP,))[CONTENT_TAP]
    feats = loss_net(output, STYLE_TAPS)
    content = ((feats[CONTENT_TAP] - reference) ** 2).sum((1, 2, 3)).div((reference**2).sum((1, 2, 3))).mean()
    style = sum(gram_loss(gram(feats[tap]), targets[tap]) for tap in STYLE_TAPS)
    assert isinstance(style, torch.Tensor)
    tv = (output[..., 1:, :] - output[..., :-1, :]).abs().mean() + (output[..., 1:] - output[..., :-1]).abs().mean()
    total = content + style_weight * style + tv_weight * tv * output.shape[-1] * output.shape[-2]
    return total, {"content": content.item(), "style": style.item(), "total": total.item()}


def _johnson_groups(net: JohnsonNet, output_lr_scale: float) -> list[dict]:
    last = net.tail[-1]
    assert isinstance(last, nn.Module)
    output = {id(p) for p in last.parameters()}
    return [{"params": [p for p in net.parameters() if id(p) not in output]},
            {"params": list(last.parameters()), "lr_scale": output_lr_scale}]


def train_johnson(config: JohnsonConfig, style: Path, content: Sequence[str | Path], checkpoint: Path, *,
                  models: Models | None = None, device: str = "auto", samples: Path | None = None,
                  max_seconds: float | None = None, log: Callable[[str], None] = print,
                  progress: Progress | None = None) -> tuple[JohnsonNet, TrainState, list[str]]:
    """Train (or resume) a Johnson network for the style image `style`; returns it (on the device), the
    state and the names of the content images."""
    where = resolve_device(device)
    content_paths = image_files(content, "--content")
    pool = load_pool(content_paths, config.size)
    style_pool = load_pool(image_files([style], "STYLE"), 64)
    loss_net = (models or CD16xModels()).loss_network(where)
    height, width = style_pool[0].shape[-2:]
    style_t = resize_tensor(style_pool[0][None], *fit_long_side(height, width, config.style_size)).clamp(0, 1)
    targets = _styled_targets(loss_net, style_t.to(where))
    with _seeded(config.seed):
        net = JohnsonNet(JohnsonShape(config.width, config.blocks, config.skip)).to(where).train()
    optimiser = torch.optim.Adam(_johnson_groups(net, config.output_lr_scale), lr=config.lr)
    session = _Session("johnson", config, {"net": net}, {"net": optimiser}, checkpoint, log)
    photo = _sample_photo(pool).to(where)

    def step() -> Losses:
        photos = random_crops(pool, config.batch, config.size, session.generator).to(where)
        total, losses = johnson_losses(loss_net, net(photos), photos, targets, config.style_weight, config.tv_weight)
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        optimiser.step()
        return losses

    def sample() -> np.ndarray:
        with torch.no_grad():
            net.eval()
            out = net(photo)
            net.train()
        return to_array(torch.cat([photo, out.clamp(0, 1)], -1))

    state = _loop(session, step, sample, samples, max_seconds, progress)
    return net.eval().requires_grad_(False), state, [p.name for p in content_paths]


def train_collection(config: CollectionConfig, paintings: Sequence[str | Path], content: Sequence[str | Path],
                     checkpoint: Path, *, device: str = "auto", samples: Path | None = None,
                     max_seconds: float | None = None, log: Callable[[str], None] = print,
                     progress: Progress | None = None) -> tuple[Generator, TrainState, list[str], list[str]]:
    """Train (or resume) the collection GAN on the paintings in `paintings`; returns G (on the device),
    the state, and the names of the paintings and of the content images."""
    where = resolve_device(device)
    painting_paths = image_files(paintings, "--collection")
    if len(painting_paths) < MIN_PAINTINGS:
        raise BrushworkError(f"--collection {', '.join(map(str, paintings))}: {len(painting_paths)} painting; a "
                             f"collection needs at least {MIN_PAINTINGS} (for one style image train a Johnson "
                             "network: brushwork train-style STYLE.jpg)")
    content_paths = image_files(content, "--content")
    crop = 2 * config.tile
    painting_pool, photo_pool = load_pool(painting_paths, crop), load_pool(content_paths, crop)
    with _seeded(config.seed):
        g = Generator(GeneratorShape(config.width, config.blocks, config.tile)).to(where).train()
        d = Discriminator(config.width).to(where).train()
    g_opt = torch.optim.Adam(g.parameters(), lr=config.lr, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), lr=config.lr, betas=(0.5, 0.999))
    session = _Session("collection", config, {"generator": g, "discriminator": d},
                       {"generator": g_opt, "discriminator": d_opt}, checkpoint, log)
    photo = _sample_photo(photo_pool).to(where)

    def step() -> Losses:
        photos = random_crops(photo_pool, config.batch, crop, session.generator).to(where)
        real = random_crops(painting_pool, config.batch, crop, session.generator).to(where)
        fake = translate_seamed(g, photos)
        # D: paintings to the fixed point, G's images away from it, photo differences kept.
        photo_vectors = d(photos)
        fake_vectors = d(fake.detach())
        d_total, d_adversarial = discriminator_loss(d(real), fake_vectors, photo_vectors, fake_vectors,
                                                    config.keep_weight)
        d_opt.zero_grad(set_to_none=True)
        d_total.backward()
        d_opt.step()
        # G: its (seamed) images to the fixed point, the direction of photo differences kept.
        fake_vectors = d(fake)
        g_total, g_adversarial, keeping = generator_loss(fake_vectors, d(photos).detach(), fake_vectors,
                                                         config.keep_weight)
        g_opt.zero_grad(set_to_none=True)
        g_total.backward()
        g_opt.step()
        return {"d": d_adversarial.item(), "g": g_adversarial.item(), "keep": keeping.item()}

    def sample() -> np.ndarray:
        from brushwork.stylize.collection import translate_tiles

        with torch.no_grad():
            g.eval()
            out = translate_tiles(g, photo)
            g.train()
        return to_array(torch.cat([photo, out.clamp(0, 1)], -1))

    state = _loop(session, step, sample, samples, max_seconds, progress)
    return (g.eval().requires_grad_(False), state, [p.name for p in painting_paths],
            [p.name for p in content_paths])


def export(kind: str, net: JohnsonNet | Generator, config: JohnsonConfig | CollectionConfig, state: TrainState,
           style_source: list[str], content_names: list[str], output: Path, command: str, notes: str = "") -> None:
    """The style file (`output`, .pt) and its model card (.json, .md) beside it."""
    trained.save(output, kind, net.config(), net.state_dict())
    figures = {"kind": kind, "parameters": sum(p.numel() for p in net.parameters()), **asdict(config),
               "train_seconds": round(state.seconds, 1), "steps_done": state.step,
               "environment": {**environment(next(net.parameters()).device), "threads": state.threads or
                               torch.get_num_threads()}, "style_source": style_source,
               "content_images": content_names, "command": command, "history": state.history}
    atomic_write(output.with_suffix(".json"), (json.dumps(figures, indent=1) + "\n").encode())
    atomic_write(output.with_suffix(".md"), _card(output.stem, figures, notes).encode())


SKIP_TEXT = {"photo": "the photo, which an untrained network returns unchanged",
             "centred": "the photo moved to a learned mean colour through a learned 3×3 colour matrix, so an "
                        "untrained network returns the photo at an average photo's mean colour"}


def _card(name: str, f: dict, notes: str) -> str:
    env = f["environment"]
    where = f"{env['machine']} ({env['device']}), {env['threads']} threads, torch {env['torch']}"
    last = f["history"][-1] if f["history"] else {}
    first = f["history"][0] if f["history"] else {}
    losses = ", ".join(f"{key} {first.get(key, float('nan')):.4g} → {value:.4g}" for key, value in last.items()
                       if key not in ("step", "seconds"))
    if f["kind"] == "johnson":
        what = (f"Johnson et al.'s image-transformation network (widths {f['width']}/{2 * f['width']}/"
                f"{4 * f['width']}, {f['blocks']} residual blocks, {f['parameters']:,} parameters; the paper's is "
                f"32/64/128, 1.7 M; here its output is added to {SKIP_TEXT[f.get('skip', 'photo')]}) trained with "
                "perceptual losses on the cd16x level-5 encoder: relative content "
                f"loss at relu4_1 + {f['style_weight']:g} × relative Gram losses over relu1_1..relu5_1 against the "
                f"style image at {f['style_size']} px; the last conv learns at {f.get('output_lr_scale', 1):g} × lr.")
        crops = f"{f['batch']} × {f['size']} px crops a step"
    else:
        what = (f"Collection GAN: a generator ({f['width']} channels, {f['blocks']} residual blocks, "
                f"{f['parameters']:,} parameters, no normalisation) translating {f['tile']} px tiles, against a "
                "Siamese discriminator (paintings near a fixed point, generated images away from it; content "
                f"kept by the cosine of difference vectors, weight {f['keep_weight']:g}; no per-pixel loss), "
                f"trained on {2 * f['tile']} px crops cut into four {f['tile']} px tiles translated separately "
                "and joined, so the discriminator sees the seams.")
        crops = f"{f['batch']} × {2 * f['tile']} px crops a step"
    return f"""# {name} ({f['kind']})

{what}

| figure | value |
|---|---|
| style source | {', '.join(f['style_source'])} |
| steps | {f['steps_done']:,} of {f['steps']:,} ({crops}, Adam lr {f['lr']:g} cosine-decayed, seed {f['seed']}) |
| training time | {f['train_seconds']:.0f} s on {where} |
| content images | {len(f['content_images'])}: {', '.join(f['content_images'])} |
| losses (first → last {f['sample_every']}-step mean) | {losses} |

Reproduce:

```
{f['command']}
```
{notes}
"""
