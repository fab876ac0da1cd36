"""The bridge's HTTP API (FastAPI): jobs under /v1, guarded by a token, a loopback Host check and a
request size limit.

The server process itself never imports torch: it validates requests, decodes images and queues
jobs; the worker process (worker.py) does the painting and stylizing.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import io
import json
import os
import struct
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from brushwork import __version__, settings
from brushwork.device import validate_device
from brushwork.errors import BrushworkError
from brushwork.server.jobs import (
    MB,
    Job,
    JobManager,
    JobState,
    Limits,
    QueueFull,
    job_memory,
    job_method,
    job_rate,
    trained_style,
)
from brushwork.server.worker import Picture
from brushwork.settings import FieldSpec, PaintSettings, StyleOptions, choice_values, method_choice, specs
from brushwork.style_files import find_style

MAX_SIDE = 16384  # px per side of an uploaded picture; the pixel count is bounded by Limits.job_bytes
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
TOO_LARGE_HINT = "select a smaller region, or start the server with a larger `brushwork serve --max-request-mb`"

class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageIn(Strict):
    """A picture: a PNG file, or raw 8-bit straight-alpha pixels (row-major) with their size."""

    encoding: Literal["png", "raw"]
    data: str = Field(description="base64 of the PNG file or of the raw pixels")
    width: int | None = Field(None, ge=1, le=MAX_SIDE, description="raw only")
    height: int | None = Field(None, ge=1, le=MAX_SIDE, description="raw only")
    channels: Literal["RGBA8", "BGRA8"] = Field("RGBA8", description="raw only: byte order of a pixel")


# ------------------------------------------------------------------------------------------ job parameters
# Built from the settings' field specs (brushwork.settings): the same names, defaults, ranges and help
# as the library and the CLI, for the fields the server offers.

def _device(name: str) -> str:
    try:
        return validate_device(name)
    except BrushworkError as exc:
        raise ValueError(str(exc)) from None


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


def _field(f: dataclasses.Field, spec: FieldSpec) -> tuple[Any, Any]:
    """The pydantic annotation and Field of one settings field."""
    values = choice_values(spec.choices)
    one: Any
    if spec.choices == "devices":  # cuda:N as well as the listed names
        one = Annotated[str, AfterValidator(_device)]
    elif values is not None:
        one = Literal[values]  # type: ignore[valid-type]
    elif spec.type == "colour":  # an RGB triple in 0..1
        one = Annotated[list[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]],
                        Field(min_length=3, max_length=3)]
    else:
        one = {"int": int, "float": float, "bool": bool, "str": str}[spec.type]
    if spec.type in ("int", "float"):
        bounds = {"gt" if spec.min_open else "ge": spec.min, "lt" if spec.max_open else "le": spec.max}
        constraints: dict[str, Any] = {k: v for k, v in bounds.items() if v is not None}
        if spec.type == "float":  # NaN passes no comparison, so pydantic would call it "not greater than 0"
            constraints["allow_inf_nan"] = False
        one = Annotated[one, Field(**constraints)]
    annotation: Any = one
    if spec.many:  # a list of values, or one value on its own (taken as a list of one)
        annotation = Annotated[one | Annotated[list[one], Field(min_length=1, max_length=spec.max_items)],
                               AfterValidator(_as_list)]
    default = list(f.default) if isinstance(f.default, tuple) else f.default
    if default is None:
        annotation = annotation | None
    # The CLI's other spellings are taken too: `brush`, as the plug-ins have always sent it.
    aliases = [name[2:].replace("-", "_") for name in spec.cli_names if name[2:].replace("-", "_") != f.name]
    return annotation, Field(default, title=spec.label, description=spec.help,
                             validation_alias=AliasChoices(f.name, *aliases) if aliases else None)


def params_model(name: str, cls: type, doc: str, **first: Any) -> type[BaseModel]:
    """The request schema of a job's parameters: the fields of the settings dataclass `cls` that the
    server offers (`first`: fields of the request itself, put before them)."""
    fields = {f.name: _field(f, spec) for f, spec in specs(cls, "server")}
    return create_model(name, __base__=Strict, __doc__=doc, **first, **fields)  # type: ignore[call-overload]


PaintParams = params_model("PaintParams", PaintSettings, "`brushwork.paint` settings; fields left out take the "
                           "library's defaults (`brushwork options`).",
                           style=(ImageIn | None, Field(None, description="a style picture: the painting takes on "
                                                        "its style as `style_mode` says")))
StylizeParams = params_model("StylizeParams", StyleOptions, "`brushwork.stylize` settings; fields left out take "
                             "the library's defaults. The output has the input's size (and keeps its alpha).",
                             style=(ImageIn | None, Field(None, description="the style picture; none with `model` "
                                                          "(a trained style needs none)")))


class PaintJob(Strict):
    kind: Literal["paint"]
    image: ImageIn
    params: PaintParams = PaintParams.model_validate({})  # type: ignore[valid-type]  # every field at its default


class StylizeJob(Strict):
    kind: Literal["stylize"]
    image: ImageIn
    params: StylizeParams  # type: ignore[valid-type]


# A batch over files on this machine (the server is the user's own, on loopback): what `brushwork batch
# paint|stylize INPUTS -o OUTPUT_DIR` does, in the worker (`brushwork.batch.run_pictures`).
BatchPaintParams = params_model("BatchPaintParams", PaintSettings, "`brushwork.paint` settings for every item; "
                                "fields left out take the library's defaults.")
BatchStylizeParams = params_model("BatchStylizeParams", StyleOptions, "`brushwork.stylize` settings for every item; "
                                  "fields left out take the library's defaults.")
_PATH = Annotated[str, Field(min_length=1, max_length=1024)]


class BatchJob(Strict):
    kind: Literal["batch"]
    task: Literal["paint", "stylize"]
    inputs: list[_PATH] = Field(min_length=1, max_length=128, description="absolute paths on the server's "
                                "machine: picture files, folders (their pictures) or globs (`**` reaches into "
                                "subfolders)")
    output_dir: _PATH = Field(description="absolute path of the folder for the outputs, named after the inputs "
                              "(made if missing); never one of the inputs")
    styles: list[_PATH] = Field([], max_length=16, description="absolute paths of style pictures (stylize: at "
                                "least one; paint: the painting takes on their style)")
    force: bool = Field(False, description="redo items whose outputs are complete from an earlier run")
    outputs: list[Literal["png", "json"]] = Field([], description="paint: also write OUTPUT_DIR/<name>.png / .json "
                                                  "beside each <name>.svg")
    image_format: Literal["png", "jpg", "webp"] = Field("png", description="stylize: OUTPUT_DIR/<name>."
                                                        "<image_format>")
    # One schema per task would be a discriminated union inside the `kind` one, which OpenAPI tools
    # (schemathesis) do not read; the handler validates params with the task's model instead.
    params: dict[str, Any] = Field({}, description="BatchPaintParams (task paint) or BatchStylizeParams (task "
                                   "stylize): the settings of a paint or stylize job, for every item")


JobRequest = Annotated[PaintJob | StylizeJob | BatchJob, Field(discriminator="kind")]
BATCH_PARAMS = {"paint": BatchPaintParams, "stylize": BatchStylizeParams}


class ItemOut(BaseModel):
    """One finished item of a batch job."""

    name: str = Field(description="the input's stem: its outputs' name")
    source: str
    status: Literal["done", "skipped", "failed"] = Field(description="done: written; skipped: complete from an "
                                                         "earlier run; failed: see message")
    seconds: float
    message: str


class JobOut(BaseModel):
    id: str
    kind: Literal["paint", "stylize", "batch"]
    state: JobState
    fraction: float = Field(description="0..1")
    message: str
    error: str | None = Field(description="why a failed job failed")
    position: int = Field(description="place in the queue, 1 = next; 0 when running or finished")
    preview: int = Field(description="serial number of the latest preview (0 = none yet); fetch it from /preview")
    width: int = Field(description="result width (px), once done")
    height: int = Field(description="result height (px), once done")
    items: list[ItemOut] = Field([], description="a batch job's items as they finish (the rest were not run yet, "
                                 "or the job was cancelled before them)")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    pid: int
    busy: bool


class Problem(BaseModel):
    detail: str


Responses = dict[int | str, dict[str, Any]]  # what FastAPI's `responses=` takes


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


GUARDS: Responses = {401: _problem("missing or wrong token"), 403: _problem("Host header is not loopback"),
          413: _problem("request too large")}
NOT_FOUND: Responses = {404: _problem("no such job (finished jobs are forgotten after a while: see the 404's detail)")}
GONE: Responses = {410: _problem("the job is done, but its result was dropped to bound the server's memory; "
                                  "run it again")}
PNG: Responses = {200: {"content": {"image/png": {}}, "description": "PNG bytes"}}


# ------------------------------------------------------------------------------------------ guards

class Guard:
    """ASGI middleware run before anything else: loopback Host only (DNS rebinding: a web page
    must not reach the server through a name that resolves to 127.0.0.1), the bearer token, and
    the request size limit (the body is read here, up to the limit, and replayed to the app)."""

    def __init__(self, app, token: str, max_bytes: int, activity) -> None:
        self.app, self.token, self.max_bytes, self.activity = app, token, max_bytes, activity

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The idle timer is touched only by requests that pass the Host and token checks below: a
        # stranger's refused requests must not keep the server alive.
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if _host_name(headers.get("host", "")) not in LOOPBACK_HOSTS:
            await _reply(send, 403, "the Host header must be 127.0.0.1 or localhost")
            return
        auth = headers.get("authorization", "")
        if not (auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), self.token.encode())):
            await _reply(send, 401, "missing or wrong token (Authorization: Bearer <token from the state file>)")
            return
        self.activity.touch()
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _reply(send, 413, f"request of {int(declared)} bytes is over the limit of {self.max_bytes}; "
                                    f"{TOO_LARGE_HINT}")
            return
        chunks, size = [], 0
        while True:  # bodies without Content-Length are counted as they come
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _reply(send, 413, f"request is over the limit of {self.max_bytes} bytes; {TOO_LARGE_HINT}")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            await self.app(scope, replay, send)
        finally:
            self.activity.touch()


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:port
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _reply(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class Activity:
    """When the server was last used; the idle timer reads it."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def touch(self) -> None:
        self.last = time.monotonic()


# ------------------------------------------------------------------------------------------ images

def declared_size(image: ImageIn, name: str) -> tuple[int, int]:
    """The picture's width and height as the request declares them, read without decoding anything:
    raw width/height, or a PNG's IHDR header (its first 24 bytes). The limits are checked on these
    before any pixel is decoded, so a tiny file declaring a huge picture costs nothing."""
    if image.encoding == "raw":
        if image.width is None or image.height is None:
            raise HTTPException(422, f"{name}: raw pixels need width and height")
        return image.width, image.height
    try:
        head = base64.b64decode(image.data[:32], validate=True)  # 32 base64 characters = 24 bytes
    except (binascii.Error, ValueError):
        raise HTTPException(422, f"{name}.data is not valid base64") from None
    if not head.startswith(PNG_SIGNATURE[:len(head)]) or len(head) < 8:
        raise HTTPException(422, f"{name}: expected a PNG file (it does not start with the PNG signature)")
    if len(head) < 24 or head[12:16] != b"IHDR":
        raise HTTPException(422, f"{name}: not a readable PNG (no IHDR header)")
    width, height = struct.unpack(">II", head[16:24])
    if width < 1 or height < 1:
        raise HTTPException(422, f"{name}: the PNG declares a {width}x{height} picture")
    return width, height


def check_size(name: str, width: int, height: int) -> None:
    if max(width, height) > MAX_SIDE:
        raise HTTPException(413, f"{name}: {width}x{height} is larger than {MAX_SIDE} px per side; select a "
                                 "smaller region or scale the picture down")


def decode_image(image: ImageIn, name: str, size: tuple[int, int]) -> Picture:
    """The wire picture as straight-alpha RGBA8; 422 with a message for anything malformed. `size`
    is `declared_size`, already checked against the limits."""
    try:
        data = base64.b64decode(image.data, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, f"{name}.data is not valid base64") from None
    width, height = size
    if image.encoding == "raw":
        expected = width * height * 4
        if len(data) != expected:
            raise HTTPException(422, f"{name}: {len(data)} bytes of pixels, but {width}x{height} "
                                     f"{image.channels} needs {expected}")
        if image.channels == "BGRA8":
            from PIL import Image

            b, g, r, a = Image.frombytes("RGBA", size, data).split()
            data = Image.merge("RGBA", (r, g, b, a)).tobytes()
        return Picture(width, height, data)
    from PIL import PngImagePlugin

    try:
        # PngImageFile directly, not Image.open: Image.open applies Pillow's bomb check, which reads a
        # process-wide setting (a warning from 89 M pixels, an error from 179 M) that would answer
        # before the server's own limits, with a misleading message; those limits have been applied
        # to this very header already (declared_size, check_budget).
        with PngImagePlugin.PngImageFile(io.BytesIO(data)) as opened:
            if opened.size != size:
                raise HTTPException(422, f"{name}: not a readable PNG (its size is {opened.width}x"
                                         f"{opened.height}, its header said {size[0]}x{size[1]})")
            rgba = opened.convert("RGBA")
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise HTTPException(422, f"{name}: not a readable PNG ({exc})") from None
    return Picture(rgba.width, rgba.height, rgba.tobytes())


def check_budget(kind: str, params: dict[str, Any], image: tuple[int, int], style: tuple[int, int] | None,
                 limits: Limits) -> int:
    """413 when the job's estimated worker memory is over the per-job budget; else the bytes its
    pictures will hold in the queue (4 per pixel)."""
    pixels = image[0] * image[1]
    style_pixels = style[0] * style[1] if style else 0
    need = job_memory(kind, params, pixels, style_pixels)
    if need > limits.job_bytes:
        what = f"a {job_method(kind, params)} stylize job" if kind == "stylize" else "a paint job"
        if kind == "paint" and trained_style(params):
            what += " with a trained style"
        rate = job_rate(kind, params)
        most = (limits.job_bytes - (need - pixels * rate)) / rate / 1e6  # what the style leaves
        raise HTTPException(413, f"image: {image[0]}x{image[1]} ({pixels / 1e6:.1f} MP) would need about "
                                 f"{need / MB:.0f} MB of worker memory for {what}, over the per-job budget of "
                                 f"{limits.job_bytes / MB:.0f} MB (about {max(0.0, most):.1f} MP for {what}); "
                                 "select a smaller region or scale the picture down")
    return 4 * (pixels + style_pixels)


# ------------------------------------------------------------------------------------------ app

def _field_range(name: str) -> str:
    """'0 < min_size <= 100000': a number parameter's bounds (from its settings spec), for messages
    pydantic words without them."""
    for cls in (PaintSettings, StyleOptions):
        for f, spec in specs(cls, "server"):
            if f.name == name and (spec.min is not None or spec.max is not None):
                low = f"{spec.min:g} {'<' if spec.min_open else '<='} " if spec.min is not None else ""
                high = f" {'<' if spec.max_open else '<='} {spec.max:g}" if spec.max is not None else ""
                return f"{low}{name}{high}"
    return ""


def validation_message(errors) -> str:
    parts = []
    for error in errors[:5]:
        # loc is ("body", "params", "strokes") or ("body", "params", "paint", ...) for tagged unions
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "paint", "stylize", "batch")]
        message = error.get("msg", "invalid")
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        elif error.get("type") == "finite_number":
            allowed = _field_range(loc[-1]) if loc else ""
            message = f"expected a finite number{f' ({allowed})' if allowed else ''}, not NaN or infinity"
        parts.append(f"{'.'.join(loc) or 'request'}: {message}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def check_device(device: str, manager: JobManager) -> None:
    """422 when the job asks for a device this machine does not have (`auto` always runs)."""
    if device == "auto":
        return
    have = manager.available_devices()
    if device not in have:
        raise HTTPException(422, f"params.device {device}: this server has no such device (it has: "
                                 f"{', '.join(have)}); leave it out or use auto")


def _out(job: Job, position: int) -> JobOut:
    return JobOut(id=job.id, kind=job.kind, state=job.state, fraction=job.fraction, message=job.message,
                  error=job.error, position=position, preview=job.preview_serial, width=job.width, height=job.height,
                  items=[ItemOut(**item) for item in list(job.items)])


_GLOB = set("*?[")


def check_batch_paths(request: BatchJob) -> None:
    """422 naming the path: relative paths (the server does not run in the user's folder), missing
    inputs and styles, an output folder that is a file or one of the inputs. The pictures themselves
    are read in the worker: one that is not a picture fails as its item."""
    named = [(f"inputs[{i}]", text) for i, text in enumerate(request.inputs)]
    named += [(f"styles[{i}]", text) for i, text in enumerate(request.styles)]
    for name, text in named + [("output_dir", request.output_dir)]:
        if not Path(text).is_absolute():
            raise HTTPException(422, f"{name} {text}: give an absolute path (the server does not run in your folder)")
    for name, text in named:
        path = Path(text)
        if name.startswith("styles") and not path.is_file():
            raise HTTPException(422, f"{name} {text}: no such file")
        if not path.exists() and not _GLOB & set(text):
            raise HTTPException(422, f"{name} {text}: no such file or folder")
    output = Path(request.output_dir)
    if output.exists() and not output.is_dir():
        raise HTTPException(422, f"output_dir {output}: is a file; expected a folder")
    for name, text in named:
        if os.path.realpath(text) == os.path.realpath(output):
            raise HTTPException(422, f"output_dir {output} is {name}; choose another folder (outputs never go over "
                                     "inputs)")
    if request.task == "stylize" and not request.styles and not trained_style(request.params):
        raise HTTPException(422, "styles: a stylize batch needs at least one style picture, or a trained style in "
                                 "params.model")


def check_model(params: dict[str, Any]) -> None:
    """A trained style the job names exists (by name, or a .pt file on this machine), before the job queues."""
    if trained_style(params):
        try:
            find_style(params["model"].strip())
        except BrushworkError as exc:
            raise HTTPException(422, f"params.model: {exc}") from None


def checked_params(kind: str, asked: Any) -> dict[str, Any]:
    """The settings a job set (the worker leaves the rest at the library's defaults), with the checks
    the schema cannot make (min_size <= max_size; levels only for methods that work level by level)."""
    params = asked.model_dump(exclude_unset=True, exclude={"style"})
    check_model(params)
    if kind == "paint":
        low, high = params.get("min_size"), params.get("max_size")
        if low is not None and high is not None and low > high:
            raise HTTPException(422, f"params.min_size {params['min_size']} is larger than "
                                     f"params.max_size {params['max_size']}")
    elif params.get("levels") is not None:
        if method_choice(asked.method).levels is None:
            raise HTTPException(422, f"params.levels does not apply to {asked.method} (it does not work level "
                                     "by level)")
        params["levels"] = tuple(params["levels"])
    return params


def create_app(manager: JobManager, token: str, max_bytes: int = 256 << 20,
               activity: Activity | None = None):
    """The ASGI application: the FastAPI app wrapped in the Guard middleware."""
    app = FastAPI(title="brushwork bridge", version=__version__, docs_url=None, redoc_url=None,
                  description="Local bridge between the brushwork core and editor plug-ins. Every request "
                              "needs `Authorization: Bearer <token>` (from the state file written by "
                              "`brushwork serve`) and a loopback Host header.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route's methods; a path served by several routes
            # (GET and POST /v1/jobs) must list them all.
            methods = set()
            for route in app.routes:
                regex = getattr(route, "path_regex", None)
                if regex is not None and regex.match(request.url.path):
                    methods |= set(getattr(route, "methods", None) or ())
            headers["Allow"] = ", ".join(sorted(methods))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        # A body that is not JSON at all is a 400 (as the schema says), not a parameter problem.
        bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if bad_json is not None:
            reason = (bad_json.get("ctx") or {}).get("error", "")
            return JSONResponse({"detail": f"the body is not valid JSON{f' ({reason})' if reason else ''}; "
                                           "send a JSON object as described in /openapi.json"}, status_code=400)
        # One readable line for the user ("params.strokes: Input should be ..."), like every other error.
        return JSONResponse({"detail": validation_message(errors)}, status_code=422)

    limits = manager.limits
    kept = f"finished jobs are kept for {limits.keep_seconds / 60:g} minutes"

    def find(job_id: str) -> Job:
        job = manager.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r} ({kept}, and a server that restarted knows none "
                                     "of the jobs before)")
        return job

    queue_full = _problem(f"the queue is full: {limits.max_queued} jobs waiting, or their pictures holding "
                          f"{limits.queued_bytes / MB:.0f} MB; wait for one to finish or cancel one "
                          "(Retry-After says how many seconds)")
    too_large = _problem(f"the request is over `--max-request-mb`, a side is over {MAX_SIDE} px, or the job "
                         f"would need more than {limits.job_bytes / MB:.0f} MB of worker memory (estimated "
                         "from the picture's declared size); select a smaller region")

    @app.get("/v1/health", responses=GUARDS)
    def health() -> Health:
        return Health(status="ok", version=__version__, pid=os.getpid(), busy=manager.busy)

    @app.post("/v1/jobs", status_code=202,
              responses={**GUARDS, 400: _problem("the body is not JSON"), 413: too_large, 429: queue_full,
                         422: _problem("bad parameters or image")})
    def submit(request: JobRequest) -> JobOut:
        """Queue a paint or stylize job; poll GET /v1/jobs/{id} for its progress.

        The limits are checked on the pictures' declared sizes before anything is decoded: 413 when
        the job alone is too large (select a smaller region), 429 when the queue has no room now
        (wait for a job to finish, or cancel one)."""
        if request.kind == "batch":
            return submit_batch(request)
        asked: Any = request.params  # PaintParams or StylizeParams: models built at import, unknown to mypy
        params = checked_params(request.kind, asked)
        params.setdefault("device", manager.default_device)
        check_device(params["device"], manager)
        image_size = declared_size(request.image, "image")
        check_size("image", *image_size)
        style_in = asked.style  # a paint job's is optional, and a stylize job with a trained style needs none
        if request.kind == "stylize" and style_in is None and not trained_style(params):
            raise HTTPException(422, "params.style: a stylize job needs a style picture, or a trained style in "
                                     "params.model (GET /v1/options lists them under styles)")
        style_size = None
        if style_in is not None:
            style_size = declared_size(style_in, "params.style")
            check_size("params.style", *style_size)
        try:
            everything = asked.model_dump(exclude={"style"})  # the method, given or not
            manager.admit(check_budget(request.kind, everything, image_size, style_size, limits))
            image = decode_image(request.image, "image", image_size)
            style = decode_image(style_in, "params.style", style_size) if style_in and style_size else None
            job = manager.submit(request.kind, params, image, style)
        except QueueFull as exc:
            # Retry-After: a small job takes seconds; a client that honours it polls gently.
            raise HTTPException(429, str(exc), headers={"Retry-After": "5"}) from None
        return _out(job, manager.position(job))

    def submit_batch(request: BatchJob) -> JobOut:
        """A batch job: its settings checked as a single job's, its paths here; no pictures are held."""
        try:
            asked = BATCH_PARAMS[request.task].model_validate(request.params)
        except ValidationError as exc:
            errors = [{**error, "loc": ("params", *error["loc"])} for error in exc.errors()]
            raise HTTPException(422, validation_message(errors)) from None
        other = {"paint": "image_format", "stylize": "outputs"}[request.task]
        if other in request.model_fields_set:
            raise HTTPException(422, f"{other}: not for a {request.task} batch")
        settings_in = checked_params(request.task, asked)
        settings_in.setdefault("device", manager.default_device)
        check_device(settings_in["device"], manager)
        check_batch_paths(request)
        extras = ({"png": "png" in request.outputs, "json": "json" in request.outputs}
                  if request.task == "paint" else {"image_format": request.image_format})
        params = {"task": request.task, "inputs": list(request.inputs), "output_dir": request.output_dir,
                  "styles": list(request.styles), "force": request.force, **extras, "settings": settings_in}
        try:
            job = manager.submit("batch", params, None, None)
        except QueueFull as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": "5"}) from None
        return _out(job, manager.position(job))

    @app.get("/v1/options", responses=GUARDS)
    def options() -> dict[str, Any]:
        """The paint and stylize settings (names, types, defaults, ranges, labels, help, which ones the
        editors offer), the brushes, methods and devices, and `available_devices`: the devices jobs
        can run on here. The editor plug-ins build their dialogs from it."""
        return {**settings.describe(), "available_devices": manager.available_devices()}

    @app.get("/v1/jobs", responses=GUARDS)
    def list_jobs() -> list[JobOut]:
        """All jobs the server remembers (running, queued, and finished ones until they are
        forgotten), oldest first."""
        return [_out(job, position) for job, position in manager.listing()]

    @app.get("/v1/jobs/{job_id}", responses={**GUARDS, **NOT_FOUND})
    def status(job_id: str) -> JobOut:
        job = find(job_id)
        return _out(job, manager.position(job))

    @app.post("/v1/jobs/{job_id}/cancel", responses={**GUARDS, **NOT_FOUND})
    def cancel(job_id: str) -> JobOut:
        """Remove a queued job, or stop the running one (within a second); finished jobs stay as they are."""
        job = find(job_id)
        manager.cancel(job)
        return _out(job, manager.position(job))

    @app.get("/v1/jobs/{job_id}/preview", response_class=Response,
             responses={**GUARDS, **PNG, 404: _problem("no such job, or no preview yet")})
    def preview(job_id: str) -> Response:
        """The latest low-resolution preview of a running paint job (PNG)."""
        data = find(job_id).preview
        if data is None:
            raise HTTPException(404, "no preview yet")
        return Response(data, media_type="image/png")

    def finished(job_id: str) -> tuple[Job, bytes, str | None]:
        """The done job with its PNG and SVG, read together under the lock (results may be dropped
        at any moment to bound memory)."""
        job = find(job_id)
        with manager.lock:
            if job.state != JobState.DONE:
                reason = f": {job.error}" if job.error else ""
                raise HTTPException(409, f"job {job_id} is {job.state}{reason}")
            if job.kind == "batch":
                raise HTTPException(404, f"job {job_id} is a batch job: its outputs are files in its output_dir, "
                                         "its items are in its status")
            if job.dropped or job.png is None:
                raise HTTPException(410, f"job {job_id} is done, but {job.dropped or 'its result is gone'}")
            manager.mark_fetched(job)
            return job, job.png, job.svg

    @app.get("/v1/jobs/{job_id}/result.png", response_class=Response,
             responses={**GUARDS, **PNG, **NOT_FOUND, **GONE, 409: _problem("the job is not done")})
    def result_png(job_id: str) -> Response:
        """The result picture at the input's size: the painting drawn by the exact renderer, or the
        stylized picture (with the input's alpha)."""
        return Response(finished(job_id)[1], media_type="image/png")

    @app.get("/v1/jobs/{job_id}/result.raw", response_class=Response,
             responses={**GUARDS, **NOT_FOUND, **GONE, 409: _problem("the job is not done"),
                        200: {"content": {"application/octet-stream": {}}, "description": "raw pixels"}})
    def result_raw(job_id: str, channels: Literal["RGBA8", "BGRA8"] = "RGBA8") -> Response:
        """The result picture as raw straight-alpha pixels (width x height x 4 bytes, row-major), so
        plug-ins need no PNG decoder: RGBA8 for GIMP, BGRA8 for Krita."""
        from PIL import Image

        with Image.open(io.BytesIO(finished(job_id)[1])) as image:
            rgba = image.convert("RGBA")
        if channels == "BGRA8":
            r, g, b, a = rgba.split()
            rgba = Image.merge("RGBA", (b, g, r, a))
        return Response(rgba.tobytes(), media_type="application/octet-stream")

    @app.get("/v1/jobs/{job_id}/result.svg", response_class=Response,
             responses={**GUARDS, **NOT_FOUND, **GONE, 409: _problem("the job is not done"),
                        200: {"content": {"image/svg+xml": {}}, "description": "SVG text"}})
    def result_svg(job_id: str, flavour: Literal["strokes", "flat", "outlines"] = "strokes",
                   x: Annotated[int, Query(ge=0, le=4 * MAX_SIDE)] = 0,
                   y: Annotated[int, Query(ge=0, le=4 * MAX_SIDE)] = 0) -> Response:
        """The strokes of a paint job as SVG (1 user unit = 1 input pixel). `strokes`: the stroke
        file (reads back losslessly); `flat`: plain paths for an editor's vector layer; `outlines`:
        one closed outline per stroke (editor paths). The editor flavours put the input's top-left
        corner at (x, y), the place of the worked region in the editor's image."""
        job, _, text = finished(job_id)
        if text is None:
            raise HTTPException(404, f"job {job_id} is a {job.kind} job: it has no SVG")
        if flavour == "strokes":
            if (x, y) != (0, 0):
                raise HTTPException(422, "x and y apply to the flat and outlines flavours only")
            return Response(text, media_type="image/svg+xml")
        from brushwork import svg

        strokes = svg.read(text)
        write = svg.write_flat if flavour == "flat" else svg.write_outlines
        return Response(write(strokes, (x, y)), media_type="image/svg+xml")

    def openapi() -> dict[str, Any]:
        # The token is checked by Guard, outside FastAPI's dependency system: declare it here so
        # clients and schema-driven tests know every operation needs it.
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "token": {"type": "http", "scheme": "bearer", "description": "the token from the state file"}}
            schema["security"] = [{"token": []}]
            # Validation errors are answered as one line (invalid_request), not FastAPI's list.
            problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
            for operation in (op for path in schema["paths"].values() for op in path.values()):
                if "422" in operation.get("responses", {}):
                    operation["responses"]["422"]["content"] = problem
            for name in ("HTTPValidationError", "ValidationError"):
                schema["components"]["schemas"].pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
    return Guard(app, token, max_bytes, activity or Activity()), app
