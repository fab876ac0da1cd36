"""The `brushwork` command. Thin: parses arguments, calls the library, reports errors in one line."""

from __future__ import annotations

import dataclasses
import functools
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files as package_files
from pathlib import Path
from typing import Any

import click

from brushwork import __version__, brushes, raster, settings as settings_module
from brushwork.device import DEVICES, validate_device
from brushwork.errors import BrushworkError, Terminated
from brushwork.files import load_strokes, refuse_collisions, save_png, save_strokes
from brushwork.neural import PATHWAYS
from brushwork.settings import FieldSpec, PaintSettings, StyleOptions, choice_values, specs, validate_settings
from brushwork.strokes import BRUSHES

OUTPUT_SUFFIXES = (".png", ".svg", ".json")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="brushwork")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def cli(debug: bool) -> None:
    """Turn photos into paintings made of real, vector brush strokes."""


def _write_output(strokes, output: Path, width: int | None, scale: float | None, transparent: bool):
    suffix = output.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise BrushworkError(f"{output}: unknown output type {suffix or '(none)'!r}; expected .png, .svg or .json")
    if suffix == ".png":
        pixels = raster.render(strokes, scale=scale or 1.0, width=width, transparent=transparent)
        save_png(pixels, output)
    else:
        if width is not None or scale is not None or transparent:
            raise BrushworkError("--width, --scale and --transparent apply to .png output only")
        save_strokes(strokes, output)


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output file: .png (drawn), or .svg / .json (converted).")
@click.option("--width", type=click.IntRange(min=1), help="Output width in pixels (height follows).")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True), help="Output size as a multiple of the canvas.")
@click.option("--transparent", is_flag=True, help="Leave out the background (RGBA PNG).")
def render(source: Path, output: Path, width: int | None, scale: float | None, transparent: bool) -> None:
    """Draw a stroke file (.svg or .json) to a PNG, or convert it to the other stroke format."""
    if width is not None and scale is not None:
        raise BrushworkError("give --width or --scale, not both")
    refuse_collisions([("output", output)], [(None, source)])
    strokes = load_strokes(source)
    _write_output(strokes, output, width, scale, transparent)
    click.echo(f"wrote {output}")


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def info(source: Path, as_json: bool) -> None:
    """Canvas size, background and stroke counts of a stroke file."""
    strokes = load_strokes(source)
    counts = strokes.counts()
    facts = {
        "width": strokes.width,
        "height": strokes.height,
        "background": None if strokes.background is None else list(strokes.background),
        "strokes": len(strokes),
        "counts": counts,
    }
    if as_json:
        click.echo(json.dumps(facts))
        return
    bg = "transparent" if strokes.background is None else "#" + "".join(
        f"{round(c * 255):02x}" for c in strokes.background)
    click.echo(f"canvas     {strokes.width} x {strokes.height} px, background {bg}")
    click.echo(f"strokes    {len(strokes)}")
    for kind, count in counts.items():
        click.echo(f"  {kind:<10} {count}")


@cli.command()
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True)
@click.option("--strokes", default=500, show_default=True, type=click.IntRange(min=1))
def demo(output_dir: Path, strokes: int) -> None:
    """Paint the bundled photo (Chelsea the cat): writes painting.svg and painting.png."""
    from brushwork.painter import paint as paint_strokes

    svg_path, png_path = output_dir / "painting.svg", output_dir / "painting.png"
    with as_file(package_files("brushwork") / "data" / "chelsea.jpg") as photo:
        refuse_collisions([("output", svg_path), ("output", png_path)], [("the bundled photo", photo)])
        click.echo(f"painting the bundled photo with {strokes} {brushes.get(brushes.DEFAULT).kind.label.lower()} "
                   "strokes ...")
        painting = paint_strokes(photo, strokes=strokes)
    output_dir.mkdir(parents=True, exist_ok=True)
    save_strokes(painting, svg_path)
    save_png(raster.render(painting, width=2 * painting.width), png_path)
    click.echo(f"wrote {svg_path} and {png_path} ({len(painting)} strokes)")


# ------------------------------------------------------------------------------------------ settings as options

class Colour(click.ParamType):
    """A colour name or #rrggbb -> an RGB triple in 0..1 (what the settings hold)."""

    name = "colour"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):  # the default, already a triple
            return value
        from PIL import ImageColor

        try:
            r, g, b = ImageColor.getrgb(value)[:3]
            return r / 255, g / 255, b / 255
        except ValueError:
            self.fail(f"{value!r} is not a colour (use a name like white or #rrggbb)", param, ctx)


class CommaList(click.ParamType):
    """`a,b,c` -> a tuple of values of `item` (str, int or float); a bad number is one error line
    naming the option, like the settings' own checks."""

    name = "list"

    def __init__(self, item: type, option: str) -> None:
        self.item, self.option = item, option

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):  # the default
            return value
        parts = [part.strip() for part in str(value).split(",")]
        if self.item is str:
            return tuple(part for part in parts if part)
        try:
            return tuple(self.item(part) for part in parts)
        except ValueError:
            raise BrushworkError(f"{self.option} {value!r}: expected comma-separated numbers, e.g. "
                                 f"{'0.7,0.3' if self.item is float else '5,4,3,2,1'}") from None


_SCALARS = {"int": int, "float": float, "str": str, "choice": str, "choices": str}


def _option(f: dataclasses.Field, spec: FieldSpec) -> Callable:
    """The click option of one settings field. Types are plain (int, float, text): ranges and choices
    are the settings' own checks, whose one-line errors name the option."""
    names = spec.cli_names or (spec.option(f.name),)
    default: Any = f.default
    values = choice_values(spec.choices)
    extra: dict[str, Any] = {}
    if spec.type == "bool":
        if default:
            names = (f"{names[0]}/--no-{names[0][2:]}",)
        extra["is_flag"] = True
    elif spec.type == "colour":
        extra["type"] = Colour()
    elif spec.many:
        extra["type"] = CommaList(type(values[0]) if values else _SCALARS[spec.type], names[0])
    else:
        extra["type"] = _SCALARS[spec.type]
    if values is not None:
        extra["metavar"] = "[" + "|".join(map(str, values)) + "]" + (",..." if spec.many else "")
    if spec.cli_default is not None:
        default = spec.cli_default  # as the CLI spells it; the option's type turns it into the value
    show = default is not None and not (spec.type == "bool" and not default)
    return click.option(*names, f.name, default=default, show_default=show, help=spec.cli_help or spec.help,
                        **extra)


def settings_options(cls: type, only: tuple[str, ...] | None = None) -> Callable:
    """Add one option per field of the settings dataclass `cls` that the CLI offers (`only`: of these
    fields), built from the fields' specs; the command receives them together as `settings`, a dict of
    field name -> value. Adding a setting to `cls` adds its option."""
    fields = [(f, spec) for f, spec in specs(cls, "cli") if only is None or f.name in only]

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def with_settings(**kwargs: Any) -> Any:
            return command(settings={f.name: kwargs.pop(f.name) for f, _ in fields}, **kwargs)

        for f, spec in reversed(fields):  # click lists options in the order the decorators are written
            with_settings = _option(f, spec)(with_settings)
        return with_settings

    return decorate


def device_option(help: str) -> Callable:
    """--device for commands whose setting is not a settings dataclass (train-renderer, serve)."""
    return click.option("--device", default="auto", show_default=True, metavar="[" + "|".join(DEVICES) + "]",
                        help=help)


@cli.command("options")
@click.option("--json", "as_json", is_flag=True, help="Print the options document as JSON.")
def options_command(as_json: bool) -> None:
    """The paint and stylize settings (defaults, ranges, help), the brushes, methods and devices: what
    the editor plug-ins build their dialogs from."""
    document = settings_module.describe()
    if as_json:
        click.echo(json.dumps(document, indent=1))
        return
    for name in ("brushes", "methods", "devices"):
        click.echo(f"{name}: {', '.join(entry['name'] for entry in document[name])}")
    for command in ("paint", "stylize"):
        click.echo(f"\n{command}:")
        for field in document[command]["fields"]:
            low, high = field["min"], field["max"]
            bounds = f" [{low if low is not None else ''}..{high if high is not None else ''}]" \
                if low is not None or high is not None else ""
            click.echo(f"  {field['option']:<20} {json.dumps(field['default']):<14}{bounds}  {field['help']}")


@cli.command()
@click.argument("image", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Stroke SVG to write (default: the image name with .svg); for a video or a folder of frames, "
              "a video (.mp4, .mov, .mkv) or a folder for each frame's SVG.")
@settings_options(PaintSettings)
@click.option("--resume", type=click.Path(path_type=Path),
              help="Add the strokes to this existing painting (.svg/.json).")
@click.option("--png", "png", is_flag=True, help="Also write a PNG drawn from the strokes.")
@click.option("--png-width", type=click.IntRange(min=1), help="Width of that PNG (default: the image's).")
@click.option("--json", "json", is_flag=True, help="Also write the stroke list as JSON.")
@click.option("--preview-every", type=click.IntRange(min=1), metavar="K",
              help="Write <output>.preview.png (the painting as it grows, stroke by stroke) every K optimisation "
              "steps, less often where that would take over 5 % of the time.")
@click.option("--animate", "animation", type=click.Path(path_type=Path),
              help="Also write a stroke-by-stroke animation (.mp4, .gif, .webp, .svg, .html).")
@click.option("--style", "styles", multiple=True, type=click.Path(path_type=Path),
              help="Paint in the style of this image (as --style-mode says); repeat to mix several.")
@click.option("--mask", type=click.Path(path_type=Path), help="With --style: image whose grey level (or alpha) "
              "says where the style applies: white = styled, black = the plain painting.")
def paint(image: Path, output: Path | None, settings: dict[str, Any], **options: Any) -> None:
    """Paint a photo with brush strokes: writes a stroke SVG (and PNG, JSON, animation on request). A video
    or a folder of frames is painted frame by frame into a video or a folder (each frame starts from the
    previous frame's strokes: --frame-steps, --reseed)."""
    from tqdm import tqdm

    from brushwork.batch import PaintTask

    if _is_clip(image):
        unsupported = {"--resume": "resume", "--png-width": "png_width", "--preview-every": "preview_every",
                       "--animate": "animation", "--style": "styles", "--mask": "mask"}
        _refuse_for_clips(image, [name for name, key in unsupported.items() if options[key]]
                          + (["--model"] if PaintSettings(**settings).trained_style else []))
        _paint_clip(image, output, settings, [suffix for suffix, wanted in ((".png", options["png"]),
                                                                           (".json", options["json"])) if wanted])
        return
    # The options (--resume, --png, --style ...) are named as PaintTask's fields: `batch paint` takes them too.
    task = PaintTask(image, output or Path(image.stem + ".svg"), PaintSettings(**settings), **options)
    task.check()  # bad settings and colliding files fail before any file is read
    bar = tqdm(total=1000, unit="‰", desc="painting", bar_format="{l_bar}{bar}| {elapsed}<{remaining}",
               disable=None)

    def progress(report) -> None:
        bar.update(round(report.fraction * 1000) - bar.n)
        bar.set_postfix_str(f"{report.strokes}/{report.total} strokes, level {report.level}/{report.levels}")

    try:
        result = task.run(progress, log=lambda line: bar.write(line, file=sys.stderr))
    finally:
        bar.close()
    written = ", ".join(str(p) for p in result.written)
    if result.cancelled:
        click.echo(f"{'terminated' if result.terminated else 'cancelled'}: kept the {len(result.strokes)} strokes "
                   f"painted so far in {written}", err=True)
        sys.exit(EXIT_TERMINATED if result.terminated else EXIT_INTERRUPTED)
    click.echo(f"wrote {written} ({len(result.strokes)} strokes, {result.seconds:.0f} s)")


# The paint settings that say how a finished painting is restyled (`brushwork restyle`).
RESTYLE_SETTINGS = ("style_mode", "style_weight", "style_steps", "style_weights", "preserve_color", "device")


@cli.command()
@click.argument("painting", type=click.Path(path_type=Path))
@click.option("--photo", required=True, type=click.Path(path_type=Path),
              help="The photo the painting was painted from: the restyled strokes stay close to it.")
@click.option("--style", "styles", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Style image; repeat to mix several (--style-weights).")
@settings_options(PaintSettings, only=RESTYLE_SETTINGS)
@click.option("--mask", type=click.Path(path_type=Path), help="Image whose grey level (or alpha) says where the "
              "strokes change: white = restyled, black = kept.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Restyled stroke file (.svg or .json), or a .png drawn from it.")
def restyle(painting: Path, photo: Path, styles: tuple[Path, ...], settings: dict[str, Any], mask: Path | None,
            output: Path) -> None:
    """Restyle an existing painting (.svg/.json): its strokes take on the style images' colours (colour
    mode: only the colours change, the geometry is kept exactly) or also their textures (texture mode)."""
    import time

    from tqdm import tqdm

    from brushwork.images import image_size, load_image, load_mask
    from brushwork.painter.restyle import RESTYLE_MODES, STYLE_SIDE, RestyleSettings, restyle as restyle_strokes
    from brushwork.painter.style import StyleGoal
    from brushwork.settings import validate_settings, validate_style_weights

    chosen = PaintSettings(**settings)
    validate_settings(chosen)
    if chosen.style_mode not in RESTYLE_MODES:
        raise BrushworkError(f"--style-mode {chosen.style_mode}: a finished painting is restyled in "
                             f"{' or '.join(RESTYLE_MODES)} mode (stylize-first repaints: use paint --style)")
    weights = validate_style_weights(chosen.style_weights, len(styles))
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise BrushworkError(f"{output}: unknown output type {output.suffix or '(none)'!r}; expected .svg, .json "
                             "or .png")
    refuse_collisions([("output", output)], [("the painting", painting), ("--photo", photo)]
                      + [("--style", style) for style in styles] + ([("--mask", mask)] if mask else []))
    strokes = load_strokes(painting)
    width, height = image_size(photo)
    # within rounding: a painting at the working size has its sides rounded to whole pixels
    if abs(strokes.width / strokes.height - width / height) > 0.01 + 1 / min(strokes.width, strokes.height):
        raise BrushworkError(f"--photo {photo}: {width}x{height} does not have the aspect ratio of the painting "
                             f"{painting} ({strokes.width}x{strokes.height})")
    picture = load_image(photo, max_side=STYLE_SIDE)
    goal = StyleGoal(tuple(load_image(style, max_side=STYLE_SIDE) for style in styles), weights,
                     chosen.style_weight, chosen.preserve_color)
    how = RestyleSettings(chosen.style_mode, chosen.style_weight, chosen.style_steps, device=chosen.device)
    started = time.perf_counter()
    with tqdm(total=1000, unit="‰", desc="restyling", bar_format="{l_bar}{bar}| {elapsed}<{remaining}",
              disable=None) as bar:
        result = restyle_strokes(strokes, picture, goal, how, mask=load_mask(mask) if mask else None,
                                 callback=lambda fraction: bar.update(round(fraction * 1000) - bar.n))
    _write_output(result, output, None, None, False)
    click.echo(f"wrote {output} ({len(result)} strokes, {chosen.style_mode} mode, "
               f"{time.perf_counter() - started:.1f} s)")


@cli.command("train-renderer")
@click.option("--kind", required=True, type=click.Choice(list(BRUSHES)), help="Brush kind to train.")
@click.option("--size", default=32, show_default=True, type=click.IntRange(8, 256), help="Output size S.")
@click.option("--hidden", default=16, show_default=True, type=click.IntRange(4, 512), help="Hidden units per layer.")
@click.option("--pathways", default="dual", show_default=True, type=click.Choice(PATHWAYS),
              help="Architecture (the single-pathway variants are SNP's ablations).")
@click.option("--steps", default=1500, show_default=True, type=click.IntRange(min=1))
@click.option("--batch", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=3e-3, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--checkpoint", type=click.Path(path_type=Path),
              help="Resumable checkpoint (default checkpoints/<kind>-<pathways>-S<size>.pt).")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True),
              help="Stop after this long (resume later with the same command).")
@click.option("--output", type=click.Path(path_type=Path),
              help="Where to write renderer.pt and the model card when training completes.")
@device_option("Where training runs: auto (CUDA, else MPS, else CPU), cpu, cuda[:N] or mps.")
def train_renderer(kind, size, hidden, pathways, steps, batch, lr, seed, checkpoint, max_minutes, output,
                   device) -> None:
    """Train a neural stroke renderer against the exact renderer (resumable)."""
    from brushwork.neural.train import TrainConfig, card_figures, export, train

    validate_device(device)  # before any file is touched

    config = TrainConfig(kind=kind, size=size, hidden=hidden, pathways=pathways, steps=steps,
                         batch=batch, lr=lr, seed=seed)
    checkpoint = checkpoint or Path("checkpoints") / f"{kind}-{pathways}-S{size}.pt"
    if output is not None:  # the checkpoint is read and rewritten; the exported files must not land on it
        refuse_collisions([("--checkpoint", checkpoint)]
                          + [("--output", output / name) for name in ("renderer.pt", "card.json", "card.md")])
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    try:
        model, state, fidelity = train(config, checkpoint, log=click.echo, device=device,
                                       max_seconds=None if max_minutes is None else 60 * max_minutes)
    except (ValueError, BrushworkError) as exc:  # the messages start with the checkpoint's path
        raise BrushworkError(f"--checkpoint {exc}") from None
    click.echo(f"held-out PSNR foreground {fidelity.psnr_foreground:.2f} dB, alpha {fidelity.psnr_alpha:.2f} dB, "
               f"SSIM foreground {fidelity.ssim_foreground:.4f}, alpha {fidelity.ssim_alpha:.4f}")
    if state.step < steps:
        click.echo(f"stopped at step {state.step}/{steps}; run the same command again to continue")
    elif output is not None:
        command = " ".join(["brushwork", "train-renderer", *sys.argv[sys.argv.index("train-renderer") + 1:]]
                           ) if "train-renderer" in sys.argv else f"brushwork train-renderer --kind {kind}"
        export(model, card_figures(model, config, state, fidelity), output, command)
        click.echo(f"wrote {output / 'renderer.pt'}, card.json and card.md")


@cli.command("train-decoder")
@click.option("--content", "content", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Content photos: files or folders (repeatable).")
@click.option("--styles", "styles", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Style images: files or folders (repeatable).")
@click.option("--hold-out", "hold_out", multiple=True, metavar="NAME",
              help="A style image (file name without suffix) left out of training and reported separately.")
@click.option("--steps", default=500, show_default=True, type=click.IntRange(min=1))
@click.option("--batch", default=4, show_default=True, type=click.IntRange(min=1))
@click.option("--size", default=192, show_default=True, type=click.IntRange(64, 1024), help="Crop size in pixels.")
@click.option("--lr", default=1e-4, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--style-weight", default=10.0, show_default=True, type=click.FloatRange(min=0),
              help="λ: weight of the mean/std style losses against the content loss.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--checkpoint", default=Path("checkpoints/adain-decoder4.pt"), show_default=True,
              type=click.Path(path_type=Path), help="Resumable checkpoint.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True),
              help="Stop after this long (resume later with the same command).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Decoder file (.pth) to write when training completes; its model card (.md, .json) goes beside it.")
@device_option("Where training runs: auto (CUDA, else MPS, else CPU), cpu, cuda[:N] or mps.")
def train_decoder_command(content, styles, hold_out, steps, batch, size, lr, style_weight, seed, checkpoint,
                          max_minutes, output: Path, device) -> None:
    """Train the AdaIN decoder (level 4) with AdaIN's objective (resumable); `--method adain` uses the
    shipped one."""
    from tqdm import tqdm

    from brushwork.stylize.train_decoder import Data, DecoderConfig, export, train

    validate_device(device)
    if output.suffix.lower() != ".pth":
        raise BrushworkError(f"--output {output}: expected a .pth file")
    refuse_collisions([("--checkpoint", checkpoint)] + [("--output", output.with_suffix(s)) for s in (".pth", ".json",
                                                                                                      ".md")])
    config = DecoderConfig(steps=steps, batch=batch, size=size, lr=lr, style_weight=style_weight, seed=seed)
    data = Data.load(content, styles, hold_out, size)
    click.echo(f"{len(data.content)} content images; styles {', '.join(data.style_names)}"
               + (f"; held out {', '.join(data.held_out_names)}" if data.held_out_names else ""))
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    with tqdm(total=steps, unit="step", dynamic_ncols=True) as bar:
        def progress(state, losses) -> None:
            bar.n = state.step
            bar.set_postfix(content=f"{losses.content:.3f}", style=f"{losses.style:.4f}", refresh=False)
            bar.refresh()

        decoder, state = train(config, data, checkpoint, device=device, log=bar.write, progress=progress,
                               max_seconds=None if max_minutes is None else 60 * max_minutes)
    if state.history:
        last = state.history[-1]
        click.echo(f"step {last['step']}: validation content {last['validation']['content']:.3f}, style "
                   f"{last['validation']['style']:.4f}" + (f"; held-out styles {last['held_out']['content']:.3f} / "
                                                           f"{last['held_out']['style']:.4f}"
                                                           if "held_out" in last else ""))
    if state.step < steps:
        click.echo(f"stopped at step {state.step}/{steps}; run the same command again to continue")
        return
    command = " ".join(["brushwork", "train-decoder", *sys.argv[sys.argv.index("train-decoder") + 1:]]
                       ) if "train-decoder" in sys.argv else "brushwork train-decoder"
    output.parent.mkdir(parents=True, exist_ok=True)
    export(decoder, config, state, data, output, command)
    click.echo(f"wrote {output} and its card ({output.with_suffix('.md').name})")


@cli.command("renderers")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_renderers(as_json: bool) -> None:
    """The installed neural renderers and their model-card figures."""
    from brushwork.renderers import installed

    cards = installed()
    if as_json:
        click.echo(json.dumps(cards))
        return
    if not cards:
        click.echo("no neural renderers installed")
        return
    click.echo(f"{'kind':<11}{'size':>5}{'params':>9}{'PSNR fg':>9}{'alpha':>7}{'mean':>7}{'SSIM fg':>9}{'alpha':>8}")
    for c in cards:
        click.echo(f"{c['kind']:<11}{c['size']:>5}{c['parameters']:>9,}{c['psnr_foreground']:>9.2f}"
                   f"{c['psnr_alpha']:>7.2f}{c['psnr']:>7.2f}{c['ssim_foreground']:>9.4f}{c['ssim_alpha']:>8.4f}")


@cli.command("animate")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output file: .gif, .webp, .mp4, .svg (animated, no script) or .html (player).")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Frames per second.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Length of the whole clip in seconds, hold included; strokes per frame follow.")
@click.option("--width", type=click.IntRange(min=1), help="Output width in pixels (height follows).")
@click.option("--hold", type=click.FloatRange(min=0),
              help="Seconds on the finished painting at the end  [default: 1, or a tenth of a shorter clip]")
@click.option("--order", type=click.Choice(["paint", "coarse-to-fine", "colour"]), default="paint",
              show_default=True, help="Order the strokes go down in.")
def animate_command(source: Path, output: Path, fps: float, duration: float, width: int | None,
                    hold: float | None, order: str) -> None:
    """Play a stroke file (.svg or .json) stroke by stroke as GIF, WebP, MP4, SVG or HTML."""
    from brushwork.animation import animate

    clip = animate(source, output, fps=fps, duration=duration, width=width, hold=hold, order=order)
    click.echo(f"wrote {output} ({clip.format}, {clip.width}x{clip.height}, {clip.strokes} strokes, "
               f"{clip.frames} frames, {clip.seconds:.2f} s)")


@cli.command()
@click.argument("content", type=click.Path(path_type=Path))
@click.option("--style", "styles", multiple=True, type=click.Path(path_type=Path),
              help="Style image; repeat to interpolate between several (none with --model).")
@settings_options(StyleOptions)
@click.option("--mask", type=click.Path(path_type=Path), help="Image whose grey level (or alpha) says where "
              "the style applies: white = styled, black = content.")
@click.option("--vgg", type=click.Path(path_type=Path), help="Use your own VGG-19 file (original AdaIN "
              "vgg_normalised.pth or torchvision VGG-19 state dict) instead of the default cd16x models.")
@click.option("--decoder", type=click.Path(path_type=Path), help="AdaIN decoder.pth for --vgg (adain/wct, level 4).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output .png, .jpg or .webp; for a video or a folder of frames, a video (.mp4, .mov, .mkv) or a "
              "folder for each frame's PNG.")
def stylize(content: Path, styles: tuple[Path, ...], settings: dict[str, Any], mask: Path | None,
            vgg: Path | None, decoder: Path | None, output: Path) -> None:
    """Restyle a photo with one or more style images (AdaIN, WCT or Gatys), at any size. A video or a
    folder of frames is stylized frame by frame into a video or a folder of PNGs (--frame-smoothing)."""
    from tqdm import tqdm

    from brushwork.batch import StyleTask

    task = StyleTask(content, styles, output, StyleOptions(**settings), mask=mask, vgg=vgg, decoder=decoder)
    if _is_clip(content):
        _stylize_clip(task)
        return
    task.check()  # bad options and colliding files fail before any image or model is loaded
    # A progress bar on a terminal only (disable=None); scripts and pipes get just the result line.
    with tqdm(total=1.0, disable=None, leave=False, bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}") as bar:
        def progress(fraction: float, stage: str) -> None:
            bar.set_description_str(stage, refresh=False)
            bar.update(fraction - bar.n)

        result = task.run(progress)
    click.echo(f"wrote {output} ({result.size[0]}x{result.size[1]}, {task.options.model or task.options.method})")


# ------------------------------------------------------------------------------------------ video and frames

def _is_clip(source: Path) -> bool:
    from brushwork.video.frames import is_clip

    return is_clip(source)


def _refuse_for_clips(source: Path, options: list[str]) -> None:
    if options:
        raise BrushworkError(f"{source}: {', '.join(options)} apply to a single picture, not to a video or a folder "
                             "of frames")


@contextmanager
def _clip_progress(total: int, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A frame counter with an ETA on a terminal; Ctrl-C or SIGTERM ends the command with the frames
    done said (a folder keeps them; a video is written whole or not at all)."""
    from tqdm import tqdm

    from brushwork.painter import PaintCancelled

    done = 0
    bar = tqdm(total=total, unit=unit, desc=unit + "s", disable=None)

    def progress(frames: int, total: int) -> None:
        nonlocal done
        done = frames
        bar.update(frames - bar.n)

    try:
        yield progress
    except (PaintCancelled, KeyboardInterrupt) as stop:
        bar.close()
        terminated = isinstance(stop, Terminated) or isinstance(stop.__context__, Terminated)
        click.echo(f"{'terminated' if terminated else 'cancelled'} after {done} frames", err=True)
        sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
    finally:
        bar.close()


def _clip_written(result, source: Path, output: Path, seconds: float) -> None:
    what = f"{output}" if len(result.outputs) == 1 else f"{len(result.outputs)} files in {output}"
    sound = ", with the sound of " + str(source) if result.audio else ""
    click.echo(f"wrote {what} ({result.frames} frames at {result.fps:g} fps{sound}, {seconds:.0f} s)")


def _paint_clip(source: Path, output: Path | None, settings: dict[str, Any], extras: list[str]) -> None:
    """paint on a video or a folder of frames (`video.paint_clip`)."""
    import time

    from brushwork.settings import validate_settings
    from brushwork.video import open_clip, paint_clip

    if output is None:
        raise BrushworkError(f"{source}: give -o, a video file (.mp4) or a folder for the frames")
    chosen = PaintSettings(**settings)
    validate_settings(chosen)  # bad settings fail before any frame is read
    clip = open_clip(source)
    started = time.perf_counter()
    with _clip_progress(clip.info.frames, "frame") as progress:
        result = paint_clip(source, output, chosen, extras=extras, progress=progress)
    _clip_written(result, source, output, time.perf_counter() - started)


def _stylize_clip(task) -> None:
    """stylize on a video or a folder of frames (`video.stylize_clip`), with the single picture's
    options (the task's)."""
    import time

    from brushwork.images import image_size, load_mask, load_rgb8
    from brushwork.video import open_clip, stylize_clip

    options = task.options.validate(len(task.styles))  # bad options fail before any frame is read
    if task.mask is not None:
        image_size(task.mask)
    clip = open_clip(task.content)
    styles = [load_rgb8(s, max_side=options.style_size) for s in task.styles]
    inputs = [("--style", s) for s in task.styles] + [(name, path) for name, path in (
        ("--mask", task.mask), ("--vgg", task.vgg), ("--decoder", task.decoder)) if path is not None]
    started = time.perf_counter()
    with _clip_progress(clip.info.frames, "frame") as progress:
        result = stylize_clip(task.content, task.output, styles, options, progress=progress, inputs=inputs,
                              mask=load_mask(task.mask) if task.mask else None, models=task.models())
    _clip_written(result, task.content, task.output, time.perf_counter() - started)


@cli.command("train-style")
@click.argument("style", required=False, type=click.Path(path_type=Path))
@click.option("--collection", "collection", multiple=True, type=click.Path(path_type=Path),
              help="Train the collection GAN on these paintings instead (files or folders, repeatable; at least 2).")
@click.option("--content", "content", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Content photos: files or folders (repeatable).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Style file (.pt) to write when training completes; its model card (.md, .json) goes beside it.")
@click.option("--steps", type=click.IntRange(min=1), help="Training steps [default: 2000].")
@click.option("--batch", type=click.IntRange(min=1), help="Crops a step [default: 4].")
@click.option("--size", type=click.IntRange(16, 1024),
              help="Johnson: crop side in px [default: 256]; collection: the tile side S (crops are 2S) [default: 64].")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help="Adam's learning rate [default: johnson 1e-3, collection 2e-4].")
@click.option("--style-weight", type=click.FloatRange(min=0),
              help="Johnson: weight of the Gram style loss against the content loss [default: 3].")
@click.option("--style-size", type=click.IntRange(32, 4096),
              help="Johnson: the style image's long side [default: 512].")
@click.option("--width", type=click.IntRange(4, 256),
              help="Channels of the network's first stage [default: johnson 16, collection 32].")
@click.option("--blocks", type=click.IntRange(1, 16), help="Residual blocks [default: johnson 5, collection 4].")
@click.option("--seed", type=int, help="Seed of the weights and crops [default: 0].")
@click.option("--sample-every", type=click.IntRange(min=1), metavar="N",
              help="Write a sample image, record the losses and save the checkpoint every N steps [default: 100].")
@click.option("--checkpoint", type=click.Path(path_type=Path),
              help="Resumable checkpoint [default: checkpoints/<output name>.ckpt]; samples go beside it.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True),
              help="Stop after this long (resume later with the same command).")
@device_option("Where training runs: auto (CUDA, else MPS, else CPU), cpu, cuda[:N] or mps.")
def train_style_command(style: Path | None, collection: tuple[Path, ...], content: tuple[Path, ...], output: Path,
                        checkpoint: Path | None, max_minutes: float | None, device: str, **chosen: Any) -> None:
    """Train a style for `stylize --model`: Johnson's network for one STYLE image, or with --collection the
    Siamese GAN for a painter's collection (resumable)."""
    from tqdm import tqdm

    from brushwork.stylize import train_style

    validate_device(device)
    if (style is None) == (not collection):
        raise BrushworkError("train-style: give one STYLE image, or --collection PAINTINGS (not both)")
    if output.suffix.lower() != ".pt":
        raise BrushworkError(f"--output {output}: expected a .pt file")
    # --size is the collection's tile side S; the other options keep their names
    changes = {("tile" if key == "size" and collection else key): value for key, value in chosen.items()
               if value is not None}
    config_type = train_style.CollectionConfig if collection else train_style.JohnsonConfig
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(config_type)})
    if unknown:
        raise BrushworkError(f"--{unknown[0].replace('_', '-')} applies to "
                             f"{'Johnson (STYLE) training' if collection else '--collection training'} only")
    config = config_type(**changes)
    checkpoint = checkpoint or Path("checkpoints") / f"{output.stem}.ckpt"
    samples = checkpoint.with_name(f"{checkpoint.stem}-samples")
    refuse_collisions([("--checkpoint", checkpoint)] + [("--output", output.with_suffix(s)) for s in (".pt", ".json",
                                                                                                      ".md")],
                      [("STYLE", style)] if style is not None else [])
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    max_seconds = None if max_minutes is None else 60 * max_minutes
    net: Any  # the Johnson network or the collection generator
    with tqdm(total=config.steps, unit="step", dynamic_ncols=True) as bar:
        def progress(state, losses) -> None:
            bar.n = state.step
            bar.set_postfix({key: f"{value:.4f}" for key, value in losses.items()}, refresh=False)
            bar.refresh()

        if collection:
            assert isinstance(config, train_style.CollectionConfig)
            net, state, source, names = train_style.train_collection(
                config, collection, content, checkpoint, device=device, samples=samples, max_seconds=max_seconds,
                log=bar.write, progress=progress)
        else:
            assert isinstance(config, train_style.JohnsonConfig) and style is not None
            net, state, names = train_style.train_johnson(
                config, style, content, checkpoint, device=device, samples=samples, max_seconds=max_seconds,
                log=bar.write, progress=progress)
            source = [style.name]
    if state.history:
        last = state.history[-1]
        click.echo(f"step {last['step']}: " + ", ".join(f"{key} {value:.4f}" for key, value in last.items()
                                                       if key not in ("step", "seconds")) + f"; samples in {samples}")
    if state.step < config.steps:
        click.echo(f"stopped at step {state.step}/{config.steps}; run the same command again to continue")
        return
    command = " ".join(["brushwork", "train-style", *sys.argv[sys.argv.index("train-style") + 1:]]
                       ) if "train-style" in sys.argv else "brushwork train-style"
    output.parent.mkdir(parents=True, exist_ok=True)
    train_style.export("collection" if collection else "johnson", net, config, state, source, names, output, command)
    click.echo(f"wrote {output} and its card ({output.with_suffix('.md').name})")


@cli.command("styles")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def styles_command(files: tuple[Path, ...], as_json: bool) -> None:
    """The trained styles `stylize --model` takes: shipped, the user's (in the styles folder named below) and
    any FILES given."""
    from brushwork.stylize import trained

    entries = trained.available(list(files))
    if as_json:
        click.echo(json.dumps({"user_folder": str(trained.user_dir()),
                               "styles": [{"name": e.name, "kind": e.kind, "path": str(e.path),
                                           "card": str(e.card) if e.card else None, "shipped": e.shipped}
                                          for e in entries]}, indent=1))
        return
    click.echo(f"user styles folder: {trained.user_dir()} (${trained.STYLES_ENV} changes it)")
    for e in entries:
        click.echo(f"{e.name:<20} {e.kind:<11} {'shipped' if e.shipped else 'user':<8} card: {e.card or '-'}")


@cli.group("weights")
def weights_group() -> None:
    """Pretrained model files: where they are, and downloading them (sha256-verified)."""


@weights_group.command("list")
def weights_list() -> None:
    """Registered files, their licence, and where each one is found."""
    from brushwork import weights

    for group in dict.fromkeys(entry.group for entry in weights.REGISTRY.values()):
        entries = [e for e in weights.REGISTRY.values() if e.group == group]
        click.echo(f"{group}: {entries[0].licence}")
        for entry in entries:
            try:
                found = weights.locate(entry)
                where = str(found) if found else "not downloaded"
            except weights.WeightsError as exc:
                where = f"BAD: {exc}"
            click.echo(f"  {entry.name:<10} {entry.size:>9,} B  {entry.description:<40} {where}")


@weights_group.command("fetch")
@click.argument("names", nargs=-1)
def weights_fetch(names: tuple[str, ...]) -> None:
    """Download registered files (all, a group such as cd16x, or names) into the cache."""
    from brushwork import weights

    for entry in weights.select(names):
        click.echo(f"{entry.name:<10} {weights.resolve(entry.name)}")


@cli.command()
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="Port on 127.0.0.1 (default: a free one).")
@click.option("--idle-timeout", default=1800.0, show_default=True, type=click.FloatRange(min=0),
              help="Exit after this many seconds without requests or jobs (0: never).")
@click.option("--max-request-mb", default=256.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Largest request body accepted, in MiB.")
@click.option("--preview-interval", default=2.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds between progress previews of a paint job (more where drawing them would take "
              "over 5 % of the time).")
@click.option("--state-file", type=click.Path(path_type=Path),
              help="Where to write {port, token, pid} (default: the user's runtime directory).")
@device_option("Where jobs that do not ask for a device run: auto (CUDA, else MPS, else CPU), cpu, cuda[:N] or mps.")
def serve(port, idle_timeout, max_request_mb, preview_interval, state_file, device) -> None:
    """Run the local bridge for the Krita and GIMP plug-ins (HTTP+JSON on 127.0.0.1, token auth)."""
    from brushwork.server import ServeOptions, serve as run_server

    run_server(ServeOptions(port, idle_timeout, max_request_mb, preview_interval, state_file,
                            validate_device(device)))


@cli.group("plugins")
def plugins_group() -> None:
    """Install the Krita and GIMP plug-ins (they start `brushwork serve` with this Python)."""


@plugins_group.command("install")
@click.argument("editor", type=click.Choice(["krita", "gimp"]))
@click.option("--dest", type=click.Path(path_type=Path),
              help="Plug-in folder (default: the editor's user folder, e.g. ~/.local/share/krita/pykrita).")
def plugins_install(editor: str, dest: Path | None) -> None:
    """Copy the plug-in and its bridge client into the editor's plug-in folder."""
    from brushwork import plugin_install

    for line in plugin_install.install(editor, dest):
        click.echo(line)


@plugins_group.command("uninstall")
@click.argument("editor", type=click.Choice(["krita", "gimp"]))
@click.option("--dest", type=click.Path(path_type=Path), help="Plug-in folder it was installed to.")
def plugins_uninstall(editor: str, dest: Path | None) -> None:
    """Remove the plug-in from the editor's plug-in folder (settings and logs are kept)."""
    from brushwork import plugin_install

    for line in plugin_install.uninstall(editor, dest):
        click.echo(line)


# ------------------------------------------------------------------------------------------ batch

@cli.group("batch")
def batch_group() -> None:
    """Paint or stylize many pictures (files, folders, globs) into one folder, on this machine or a Ray cluster."""


# Options of `paint` and `stylize` that are about one picture's own files: a batch names its outputs
# after each input and takes no per-picture painting to resume, preview or mask.
_PER_PICTURE = {"output", "resume", "preview_every", "animation", "mask"}


def _single_options(command: click.Command, settings_cls: type) -> list[click.Parameter]:
    """`command`'s options beside its settings and the per-picture ones: what a batch takes from it (the
    same option objects, so `batch paint` offers whatever `paint` offers)."""
    fields = {f.name for f, _ in specs(settings_cls, "cli")}
    return [p for p in command.params if isinstance(p, click.Option) and p.name not in fields | _PER_PICTURE]


def _batch_options(command: Callable) -> Callable:
    for option in reversed([
        click.argument("inputs", nargs=-1, required=True),
        click.option("-o", "--output-dir", required=True, type=click.Path(path_type=Path, file_okay=False),
                     help="Folder for the outputs, named after the inputs (made if missing)."),
        click.option("--jobs", default=1, show_default=True, type=click.IntRange(min=1),
                     help="Worker processes on this machine (each gets cores / jobs torch threads)."),
        click.option("--executor", default="local", show_default=True, type=click.Choice(["local", "ray"]),
                     help="local: this machine; ray: tasks on a Ray cluster (pip install 'brushwork[ray]')."),
        click.option("--address", metavar="HOST:PORT",
                     help="The Ray cluster's head (default: $RAY_ADDRESS, else Ray started on this machine)."),
        click.option("--force", is_flag=True, help="Redo items whose outputs are already complete."),
    ]):
        command = option(command)
    return command


def _run_batch(items: list, verb: str, jobs: int, executor: str, address: str | None, force: bool,
               device: str) -> None:
    """Run the items under one progress bar (with ETA), report failures as they happen, sum up; exit
    status 1 when any item failed."""
    from tqdm import tqdm

    from brushwork.batch import run_batch

    counts = {"skipped": 0, "failed": 0}
    with tqdm(total=len(items), unit="item", desc=verb, disable=None, dynamic_ncols=True) as bar:
        def on_outcome(outcome) -> None:
            if outcome.status == "skipped":
                bar.total -= 1  # complete from an earlier run: not work, so not in the rate and the ETA
            else:
                bar.update(1)
            if outcome.status == "failed" and not bar.disable:  # on a terminal now; in the summary anyway
                bar.write(f"failed: {outcome.source}: {outcome.message}", file=sys.stderr)
            if outcome.status in counts:
                counts[outcome.status] += 1
                bar.set_postfix(counts, refresh=False)
            bar.refresh()

        summary = run_batch(items, executor=executor, jobs=jobs, address=address, force=force, device=device,
                            on_outcome=on_outcome)
    for outcome in summary.failed:
        click.echo(f"failed: {outcome.source}: {outcome.message}", err=True)
    click.echo(summary.line(verb))
    if summary.failed:
        sys.exit(1)


# On a Ray cluster a video is painted in chunks of this many frames, a task each (a chunk's first frame is
# painted in full: fewer, longer chunks cost less and flicker less at their joins).
RAY_CHUNK_FRAMES = 48


@batch_group.command("paint")
@_batch_options
@settings_options(PaintSettings)
@click.option("--animate", "animation", metavar="[mp4|gif|webp|svg|html]",
              help="Also write each stroke-by-stroke animation as OUTDIR/<name>.<type> (svg: <name>.animated.svg).")
@click.option("--chunk-frames", type=click.IntRange(min=1), metavar="N",
              help=f"A video is painted N frames at a time, each chunk's first frame in full (on Ray, a task per "
                   f"chunk)  [default: the whole clip; {RAY_CHUNK_FRAMES} with --executor ray]")
def batch_paint(inputs: tuple[str, ...], output_dir: Path, jobs: int, executor: str, address: str | None,
                force: bool, animation: str | None, chunk_frames: int | None, settings: dict[str, Any],
                **options: Any) -> None:
    """Paint every picture: INPUT.jpg -> OUTDIR/INPUT.svg (plus .png, .json, animation on request); a video:
    INPUT.mp4 -> OUTDIR/INPUT.mp4. An item whose outputs are complete is skipped; a failed one is reported
    and the rest go on."""
    from brushwork.batch import PaintTask, paint_items, pictures

    template = PaintTask(Path(), Path(), PaintSettings(**settings), **options)
    validate_settings(template.settings)  # before any folder is made
    chunk = chunk_frames or (RAY_CHUNK_FRAMES if executor == "ray" else None)
    items = paint_items(pictures(inputs, videos=True), output_dir, template, animation, chunk)
    output_dir.mkdir(parents=True, exist_ok=True)
    _run_batch(items, "painted", jobs, executor, address, force, template.settings.device)


batch_paint.params.extend(_single_options(paint, PaintSettings))


@batch_group.command("stylize")
@_batch_options
@settings_options(StyleOptions)
@click.option("--format", "image_format", default="png", show_default=True, type=click.Choice(["png", "jpg", "webp"]),
              help="Output type: OUTDIR/<name>.<format>.")
def batch_stylize(inputs: tuple[str, ...], output_dir: Path, jobs: int, executor: str, address: str | None,
                  force: bool, image_format: str, settings: dict[str, Any], **options: Any) -> None:
    """Stylize every picture: INPUT.jpg -> OUTDIR/INPUT.png (--format). An item whose output is complete is
    skipped; a failed one is reported and the rest go on."""
    from brushwork.batch import StyleTask, pictures, style_items

    template = StyleTask(content=Path(), output=Path(), options=StyleOptions(**settings), **options)
    template.options.validate(len(template.styles))  # before any folder is made
    items = style_items(pictures(inputs), output_dir, template, image_format)
    output_dir.mkdir(parents=True, exist_ok=True)
    _run_batch(items, "stylized", jobs, executor, address, force, template.options.device)


batch_stylize.params.extend(_single_options(stylize, StyleOptions))


# Exit statuses of a run stopped by Ctrl-C (SIGINT) and by SIGTERM: 128 + the signal, as shells report.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM (kill, timeout, a service manager) raises Terminated, a
    KeyboardInterrupt, where Python's default would end the process on the spot: so it takes
    Ctrl-C's way out, and every cleanup on that way runs (a paint keeps its strokes; atomic writes,
    animate's temporary folder and its ffmpeg go). The handler before is put back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers (brushwork run from a worker thread)
        return

    def terminate(signum, frame) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        with _sigterm_as_interrupt():
            cli.main(args=args, prog_name="brushwork", standalone_mode=False)
    except click.exceptions.Abort as exc:  # click's wrapper of KeyboardInterrupt (and EOF at a prompt)
        terminated = isinstance(exc.__cause__, Terminated)
        click.echo("terminated" if terminated else "aborted", err=True)
        sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
    except Terminated:  # arrived outside click's own handling
        click.echo("terminated", err=True)
        sys.exit(EXIT_TERMINATED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrushworkError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # a bug, not bad input: still one line unless asked
        if debug:
            raise
        click.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
