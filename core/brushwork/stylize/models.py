"""VGG-19-style encoders and decoders, built from the key layout of the file that holds their weights.

Three file layouts are understood (each file maps parameter names to tensors):

- `cd16x` (default; Collaborative Distillation's 16x-compressed VGG-19, one file per level): encoder
  `kSE` = `conv0` (1x1 colour conversion) and 3x3 convs `conv11 conv12 | conv21 conv22 | conv31..conv34 |
  conv41..conv44 | conv51` up to the first conv of block k (`*_aux` keys are ignored); decoder `kSD` = the
  same convs in reverse order, nearest 2x upsampling after each `convB1` with B >= 2, no ReLU after the
  final `conv11`. Files may wrap the state dict as `{"model": ...}`.
- `vgg_normalised` (the original AdaIN / WCT encoder, naoto0804/pytorch-AdaIN `vgg_normalised.pth`):
  an `nn.Sequential` with `0` (1x1 conv) and 3x3 convs at indices 2 5 | 9 12 | 16 19 22 25 | 29 32 35 38
  | 42 45 48 51, reflection padding, ceil-mode max pooling; input RGB in [0, 1].
  The matching AdaIN `decoder.pth` (relu4_1 → image): convs at 1 | 5 8 11 14 | 18 21 | 25 28.
- `torchvision` (`torchvision.models.vgg19().state_dict()` or just its `features`): `features.N` at
  0 2 | 5 7 | 10 12 14 16 | 19 21 23 25 | 28 30 32 34, zero padding, ImageNet-normalised input;
  `classifier.*` keys are ignored. There is no decoder for it: it serves as the Gatys loss network.

Features are tapped after the ReLU of the first conv in each block (relu1_1 ... relu5_1), named "1".."5".

Networks live on a device: a `Models` object builds each one on the device asked for the first time
it is asked, and keeps it (one copy per network and device), so a model moves to the device once.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from brushwork import weights
from brushwork.weights import WeightsError

POOL = "pool"
UP = "up"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Conv:
    """One convolution of a layout: the key prefix in the file, and what follows it."""

    key: str
    relu: bool = True
    tap: str | None = None  # name of the feature emitted after this conv (and its ReLU)


Op = Conv | str  # a Conv, POOL or UP


@dataclass(frozen=True)
class Layout:
    """A VGG-19 family's encoder file layout: five blocks of conv keys."""

    name: str
    first: str | None  # 1x1 input conversion conv, if the family has one
    blocks: tuple[tuple[str, ...], ...]
    padding: str  # "reflect" or "zeros"
    ceil_pool: bool
    normalize: bool  # ImageNet mean/std applied to the RGB input before the first conv
    ignored: Callable[[str], bool]

    def encoder_ops(self, level: int, full: bool = False) -> list[Op]:
        """Ops of the encoder ending at relu<level>_1 (or, with full, including all of `level`'s block)."""
        ops: list[Op] = [Conv(self.first, relu=False)] if self.first else []
        for b in range(level):
            if b:
                ops.append(POOL)
            keys = self.blocks[b] if (full or b < level - 1) else self.blocks[b][:1]
            ops += [Conv(key, tap=str(b + 1) if i == 0 else None) for i, key in enumerate(keys)]
        return ops


CD16X = Layout(
    name="cd16x",
    first="conv0",
    blocks=(("conv11", "conv12"), ("conv21", "conv22"), ("conv31", "conv32", "conv33", "conv34"),
            ("conv41", "conv42", "conv43", "conv44"), ("conv51",)),
    padding="reflect", ceil_pool=False, normalize=False,
    ignored=lambda key: key.split(".")[0].endswith("_aux"),  # distillation-only 1x1 convs
)
VGG_NORMALISED = Layout(
    name="vgg_normalised",
    first="0",
    blocks=(("2", "5"), ("9", "12"), ("16", "19", "22", "25"), ("29", "32", "35", "38"), ("42", "45", "48", "51")),
    padding="reflect", ceil_pool=True, normalize=False,
    ignored=lambda key: False,
)
TORCHVISION = Layout(
    name="torchvision",
    first=None,
    blocks=tuple(tuple(f"features.{i}" for i in block) for block in
                 ((0, 2), (5, 7), (10, 12, 14, 16), (19, 21, 23, 25), (28, 30, 32, 34))),
    padding="zeros", ceil_pool=False, normalize=True,
    ignored=lambda key: key.startswith("classifier."),
)
# The AdaIN decoder (relu4_1 features → RGB), naoto0804/pytorch-AdaIN net.decoder.
ADAIN_DECODER_OPS: list[Op] = [Conv("1"), UP, Conv("5"), Conv("8"), Conv("11"), Conv("14"), UP, Conv("18"),
                               Conv("21"), UP, Conv("25"), Conv("28", relu=False)]


# The shipped decoder trained for AdaIN on the cd16x level-4 encoder (package data, with its model card).
ADAIN_DECODER_LEVEL = 4
ADAIN_DECODER_FILE = "data/adain_decoder4.pth"


def cd16x_decoder_ops(level: int) -> list[Op]:
    """Mirror of the level-`level` cd16x encoder: convs in reverse, upsampling where the encoder pooled."""
    convs = [op for op in CD16X.encoder_ops(level) if isinstance(op, Conv) and op.key != CD16X.first]
    ops: list[Op] = []
    for conv in reversed(convs):
        ops.append(Conv(conv.key, relu=conv.key != "conv11"))
        if conv.key.endswith("1") and conv.key != "conv11":
            ops.append(UP)
    return ops


def _param_keys(ops: Iterable[Op]) -> list[str]:
    return [f"{op.key}.{p}" for op in ops if isinstance(op, Conv) for p in ("weight", "bias")]


def _short(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", … ({len(keys) - limit} more)" if len(keys) > limit else "")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A file's tensors by name (unwrapping `{"model": ...}` / `{"state_dict": ...}`)."""
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such weights file") from None
    except Exception as exc:  # pickle, zip and torch errors all mean the same thing to the user
        message = f"{path}: not a PyTorch weights file ({type(exc).__name__}: {exc})"
        raise WeightsError(message.splitlines()[0]) from None
    for wrapper in ("model", "state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: expected a state dict (parameter name → tensor)")
    return obj


def check_keys(path: str | os.PathLike, state: dict[str, torch.Tensor], expected: list[str],
               ignored: Callable[[str], bool], what: str) -> None:
    """Refuse a file whose keys are not exactly `expected` (plus ignorable extras), naming the differences."""
    present = set(state)
    missing = [k for k in expected if k not in present]
    wanted = set(expected)
    unexpected = sorted(k for k in present if k not in wanted and not ignored(k))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_short(unexpected)}")
        raise WeightsError(f"{path}: not a {what} file: {'; '.join(parts)}")


def detect_layout(path: str | os.PathLike, state: dict[str, torch.Tensor]) -> Layout:
    """Which encoder layout a user-supplied VGG-19 file has."""
    if "features.0.weight" in state:
        return TORCHVISION
    if "0.weight" in state and tuple(state["0.weight"].shape) == (3, 3, 1, 1):
        return VGG_NORMALISED
    if "conv0.weight" in state:
        return CD16X
    raise WeightsError(
        f"{path}: unknown VGG-19 layout (keys {_short(sorted(state), 4)}); expected torchvision's "
        "`features.N.weight`, the original vgg_normalised `0.weight` … `51.weight`, or cd16x `conv0` … `conv51`"
    )


DeviceLike = torch.device | str


def device_key(device: DeviceLike) -> torch.device:
    """A device as a cache key: "cuda" and "cuda:0" (the current GPU) are one device."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


class Net(nn.Module):
    """A plain feed-forward chain of 3x3/1x1 convs (+ReLU), max pools and nearest upsampling, built on
    `device`."""

    def __init__(self, ops: list[Op], state: dict[str, torch.Tensor], padding: str = "reflect",
                 ceil_pool: bool = False, normalize: bool = False, source: str = "weights",
                 device: DeviceLike = "cpu"):
        super().__init__()
        # Models load lazily, possibly inside a caller's inference_mode; parameters made there could
        # never take part in autograd (Gatys back-propagates through them), so build them outside it.
        with torch.inference_mode(False):
            self._build(ops, state, padding, ceil_pool, normalize, source, torch.device(device))
            # oneDNN's CPU convolutions run about 30 % faster on channels-last tensors (measured on the
            # cd16x level 1-5 pairs at 512 px: 3.1 → 2.2 CPU s).
            # (Module.to takes memory_format, as documented; torch's overloads leave it out)
            self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.requires_grad_(False)
        self.eval()

    def _build(self, ops: list[Op], state: dict[str, torch.Tensor], padding: str, ceil_pool: bool,
               normalize: bool, source: str, device: torch.device) -> None:
        self.ops = list(ops)
        self.padding = "reflect" if padding == "reflect" else "constant"
        self.ceil_pool = ceil_pool
        self.convs = nn.ModuleList()
        channels = None
        for op in self.ops:
            if not isinstance(op, Conv):
                continue
            weight, bias = state[f"{op.key}.weight"], state[f"{op.key}.bias"]
            if weight.ndim != 4 or weight.shape[2] != weight.shape[3] or bias.shape != weight.shape[:1]:
                raise WeightsError(f"{source}: {op.key}.weight/.bias have shapes {tuple(weight.shape)}/"
                                   f"{tuple(bias.shape)}; expected a square conv kernel and one bias per output")
            cout, cin, k = weight.shape[:3]
            if channels is not None and cin != channels:
                raise WeightsError(f"{source}: {op.key}.weight takes {cin} input channels but the previous layer "
                                   f"gives {channels}")
            conv = nn.Conv2d(cin, cout, k, device=device)
            assert conv.bias is not None  # bias=True, the default
            with torch.no_grad():
                conv.weight.copy_(weight.float())
                conv.bias.copy_(bias.float())
            self.convs.append(conv)
            channels = cout
        self.out_channels = channels
        self.in_channels = self.convs[0].in_channels
        if normalize:
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1))
        else:
            self.mean = self.std = None

    def keyed_state(self) -> dict[str, torch.Tensor]:
        """The weights under the keys of the file layout they were built from (`conv41.weight`, ...)."""
        keys = [op.key for op in self.ops if isinstance(op, Conv)]
        return {f"{key}.{name}": tensor for key, conv in zip(keys, self.convs, strict=True)
                for name, tensor in conv.state_dict().items()}

    @property
    def taps(self) -> list[str]:
        return [op.tap for op in self.ops if isinstance(op, Conv) and op.tap]

    def forward(self, x: torch.Tensor, taps: Iterable[str] | None = None) -> torch.Tensor | dict[str, torch.Tensor]:
        """The chain's output, or with `taps` a dict of those named features (stopping at the last)."""
        wanted = set(taps) if taps is not None else None
        found: dict[str, torch.Tensor] = {}
        x = x.contiguous(memory_format=torch.channels_last)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        convs = cast(Iterator[nn.Conv2d], iter(self.convs))  # _build appends Conv2d only
        for op in self.ops:
            if op == POOL:
                x = F.max_pool2d(x, 2, ceil_mode=self.ceil_pool)
            elif op == UP:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            elif isinstance(op, Conv):
                conv = next(convs)
                pad = conv.kernel_size[0] // 2
                if pad:
                    x = F.pad(x, (pad, pad, pad, pad), mode=self.padding)
                x = conv(x)
                if op.relu:
                    # in place saves an allocation per layer, except where autograd needs the conv output
                    x = F.relu(x, inplace=not torch.is_grad_enabled())
                if wanted is not None and op.tap in wanted:
                    found[op.tap] = x
                    if len(found) == len(wanted):
                        return found
        if wanted is not None:
            missing = sorted(wanted - set(found))
            raise ValueError(f"this network has no feature taps {missing}; it has {self.taps}")
        return x


_Built = TypeVar("_Built")


class Models(ABC):
    """Encoder/decoder pairs by level, and the loss network (relu1_1..relu5_1 taps), each on the device
    asked for: built there on first use and kept (per network and device), as are other methods'
    networks (`kept`)."""

    name = "models"

    def __init__(self) -> None:
        self._nets: dict[tuple[str, torch.device], Any] = {}

    def kept(self, key: str, device: DeviceLike, build: Callable[[torch.device], _Built]) -> _Built:
        """The networks `key` on `device`, built there by `build(device)` the first time and kept with
        these models (a server worker reuses them from job to job)."""
        slot = (key, device_key(device))
        if slot not in self._nets:
            self._nets[slot] = build(slot[1])
        return self._nets[slot]

    @abstractmethod
    def levels(self) -> tuple[int, ...]:
        """Levels that have an encoder-decoder pair (usable by adain and wct)."""

    @abstractmethod
    def encoder(self, level: int, device: DeviceLike = "cpu") -> Net:
        """Image (RGB in [0, 1]) → relu<level>_1 features."""

    @abstractmethod
    def decoder(self, level: int, device: DeviceLike = "cpu") -> Net:
        """relu<level>_1 features → image."""

    def adain_decoder(self, level: int, device: DeviceLike = "cpu") -> Net:
        """relu<level>_1 features after AdaIN → image: a decoder trained for AdaIN where the family has one,
        else the reconstruction decoder."""
        return self.decoder(level, device)

    @abstractmethod
    def loss_network(self, device: DeviceLike = "cpu") -> Net:
        """An encoder with taps "1".."5" (relu1_1..relu5_1)."""


class CD16xModels(Models):
    """The default Collaborative Distillation pairs, resolved through the weights registry."""

    name = "cd16x"

    def __init__(self, directory: str | os.PathLike | None = None, download: bool = True):
        # directory: explicit folder laid out like the registry (cd16x/1SE.pth ...); else the registry order.
        super().__init__()
        self.directory = Path(directory) if directory is not None else None
        self.download = download

    def load(self, key: str) -> tuple[Path, dict[str, torch.Tensor]]:
        """The file of network `key` (e.g. "4SD") and its tensors."""
        explicit = self.directory / f"cd16x/{key}.pth" if self.directory is not None else None
        path = weights.resolve(f"cd16x/{key}", explicit=explicit, download=self.download)
        return path, read_state_dict(path)

    def _net(self, key: str, ops: list[Op], what: str, device: DeviceLike) -> Net:
        def build(device: torch.device) -> Net:
            path, state = self.load(key)
            check_keys(path, state, _param_keys(ops), CD16X.ignored, what)
            return Net(ops, state, padding="reflect", source=str(path), device=device)

        return self.kept(key, device, build)

    def levels(self) -> tuple[int, ...]:
        return (1, 2, 3, 4, 5)

    def encoder(self, level: int, device: DeviceLike = "cpu") -> Net:
        return self._net(f"{level}SE", CD16X.encoder_ops(level), f"cd16x level-{level} encoder", device)

    def decoder(self, level: int, device: DeviceLike = "cpu") -> Net:
        return self._net(f"{level}SD", cd16x_decoder_ops(level), f"cd16x level-{level} decoder", device)

    def adain_decoder(self, level: int, device: DeviceLike = "cpu") -> Net:
        # The level-4 decoder trained with AdaIN's objective ships with brushwork (stylize/train_decoder.py);
        # the other levels decode AdaIN features with the reconstruction decoders.
        if level != ADAIN_DECODER_LEVEL:
            return self.decoder(level, device)

        def build(device: torch.device) -> Net:
            path = Path(str(resources.files("brushwork") / ADAIN_DECODER_FILE))
            state = read_state_dict(path)
            ops = cd16x_decoder_ops(level)
            check_keys(path, state, _param_keys(ops), CD16X.ignored, "AdaIN level-4 decoder")
            return Net(ops, state, padding="reflect", source=str(path), device=device)

        return self.kept("adain4", device, build)

    def loss_network(self, device: DeviceLike = "cpu") -> Net:
        return self.encoder(5, device)


class VGGModels(Models):
    """User-supplied files: a VGG-19 encoder (vgg_normalised or torchvision layout), optionally the AdaIN
    decoder (which decodes the vgg_normalised relu4_1 features: level 4 only)."""

    def __init__(self, vgg: str | os.PathLike, decoder: str | os.PathLike | None = None):
        super().__init__()
        self.vgg_path = Path(vgg)
        state = read_state_dict(self.vgg_path)
        self.layout = detect_layout(self.vgg_path, state)
        self.name = self.layout.name
        ops = self.layout.encoder_ops(5, full=True)
        check_keys(self.vgg_path, state, _param_keys(ops), self.layout.ignored, f"{self.layout.name} VGG-19")
        self._state = state
        self.decoder_path = Path(decoder) if decoder is not None else None
        self._decoder_state: dict[str, torch.Tensor] | None = None
        if self.decoder_path is not None:
            if self.layout is not VGG_NORMALISED:
                raise WeightsError(f"{decoder}: the AdaIN decoder decodes the original vgg_normalised encoder's "
                                   f"features; {self.vgg_path} is a {self.layout.name} file")
            dstate = read_state_dict(self.decoder_path)
            check_keys(self.decoder_path, dstate, _param_keys(ADAIN_DECODER_OPS), lambda key: False,
                       "AdaIN decoder")
            self._decoder_state = dstate

    def levels(self) -> tuple[int, ...]:
        return (4,) if self._decoder_state is not None else ()

    def encoder(self, level: int, device: DeviceLike = "cpu") -> Net:
        return self.kept(f"encoder{level}", device, lambda device: Net(
            self.layout.encoder_ops(level), self._state, padding=self.layout.padding, ceil_pool=self.layout.ceil_pool,
            normalize=self.layout.normalize, source=str(self.vgg_path), device=device))

    def decoder(self, level: int, device: DeviceLike = "cpu") -> Net:
        state = self._decoder_state
        if state is None or level != 4:
            raise WeightsError(f"no decoder for level {level}: with --vgg, adain and wct need --decoder (the AdaIN "
                               "decoder.pth, level 4); gatys needs none")
        return self.kept("decoder4", device, lambda device: Net(
            ADAIN_DECODER_OPS, state, padding="reflect", source=str(self.decoder_path), device=device))

    def loss_network(self, device: DeviceLike = "cpu") -> Net:
        return self.encoder(5, device)
