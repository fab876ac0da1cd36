"""The weights registry: resolution order, verification, downloads (from a local server), errors."""

import hashlib
import http.server
import threading
from dataclasses import replace

import pytest

from brushwork import weights
from brushwork.weights import WeightsError

from conftest import SHARED_WEIGHTS, run_cli as run


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No BRUSHWORK_WEIGHTS, an empty cache under tmp_path, downloads allowed."""
    monkeypatch.delenv(weights.ENV_DIR, raising=False)
    monkeypatch.delenv(weights.ENV_OFFLINE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "brushwork"


@pytest.fixture
def server(tmp_path):
    """A static HTTP server on 127.0.0.1 serving tmp_path/www; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def served_entry(server, data: bytes, registered: bytes | None = None) -> weights.WeightFile:
    """A registry entry whose URL serves `data` and whose checksum is that of `registered` (default data)."""
    root, base = server
    (root / "model.pth").write_bytes(data)
    expected = data if registered is None else registered
    return weights.WeightFile(name="test/model", path="test/model.pth", url=f"{base}/model.pth",
                              sha256=hashlib.sha256(expected).hexdigest(), size=len(expected),
                              licence="MIT", description="test file")


def test_registry_matches_the_published_checksums(weights_dir):
    if SHARED_WEIGHTS.is_dir():  # the checksums published with the project's copy
        sums = dict(reversed(line.split()) for line in (SHARED_WEIGHTS / "SHA256SUMS").read_text().splitlines()
                    if line.startswith(tuple("0123456789abcdef")) and line.split()[1].startswith(("cd16x/",
                                                                                                "microast/")))
    else:  # a plain clone: the files as downloaded from their upstream URLs
        sums = {e.path: weights.sha256_of(weights_dir / e.path) for e in weights.REGISTRY.values()}
    assert {e.path: e.sha256 for e in weights.REGISTRY.values()} == sums
    for entry in weights.REGISTRY.values():
        assert (weights_dir / entry.path).stat().st_size == entry.size
        upstream = {"cd16x": "MingSun-Tse/Collaborative-Distillation", "microast": "EndyWon/MicroAST"}[entry.group]
        assert entry.url.startswith(f"https://github.com/{upstream}/raw/")
        assert "MIT" in entry.licence and "Wang" in entry.licence


def test_env_dir_is_used_and_verified(isolated, monkeypatch, weights_dir):
    monkeypatch.setenv(weights.ENV_DIR, str(weights_dir))
    monkeypatch.setenv(weights.ENV_OFFLINE, "1")
    assert weights.resolve("cd16x/5SE") == weights_dir / "cd16x" / "5SE.pth"


def test_explicit_path_wins_and_must_exist(isolated, tmp_path):
    own = tmp_path / "mine.pth"
    own.write_bytes(b"x")
    assert weights.resolve("cd16x/5SE", explicit=own) == own
    with pytest.raises(WeightsError, match="nope.pth: no such weights file"):
        weights.resolve("cd16x/5SE", explicit=tmp_path / "nope.pth")


def test_corrupt_file_in_env_dir_is_refused_not_deleted(isolated, monkeypatch, tmp_path):
    folder = tmp_path / "mine"
    (folder / "cd16x").mkdir(parents=True)
    bad = folder / "cd16x" / "1SD.pth"
    bad.write_bytes(b"\0" * weights.REGISTRY["cd16x/1SD"].size)
    monkeypatch.setenv(weights.ENV_DIR, str(folder))
    with pytest.raises(WeightsError, match=r"1SD.pth: sha256 [0-9a-f]{64} does not match cd16x/1SD"):
        weights.resolve("cd16x/1SD")
    bad.write_bytes(b"short")
    with pytest.raises(WeightsError, match="5 bytes, expected 3220"):
        weights.resolve("cd16x/1SD")
    assert bad.exists()


def test_missing_file_offline_names_it_and_the_places_searched(isolated, monkeypatch, tmp_path):
    monkeypatch.setenv(weights.ENV_DIR, str(tmp_path / "empty"))
    monkeypatch.setenv(weights.ENV_OFFLINE, "1")
    with pytest.raises(WeightsError) as err:
        weights.resolve("cd16x/4SE")
    message = str(err.value)
    assert "cd16x/4SE" in message and "offline" in message and str(isolated) in message
    assert "brushwork weights fetch cd16x" in message


def test_unknown_name():
    with pytest.raises(WeightsError, match="unknown weights 'cd16x/9SE'"):
        weights.lookup("cd16x/9SE")
    assert [e.name for e in weights.select(["cd16x/2SD", "cd16x"])][:2] == ["cd16x/2SD", "cd16x/1SE"]
    assert len(weights.select([])) == len(weights.REGISTRY) == 14  # 10 cd16x + 4 microast
    assert [e.name for e in weights.select(["microast"])] == [f"microast/{n}" for n in
                                                              ("content_encoder", "style_encoder", "modulator",
                                                               "decoder")]


def test_download_verifies_and_caches(isolated, server, capsys):
    data = bytes(range(256)) * 1000
    entry = served_entry(server, data)
    path = weights.fetch(entry, progress=True)
    assert path == isolated / "test" / "model.pth" and path.read_bytes() == data
    assert "test/model" in capsys.readouterr().err  # tqdm's progress bar on stderr
    assert [p.name for p in path.parent.iterdir()] == ["model.pth"]


def test_hash_mismatch_removes_the_partial_file(isolated, server):
    entry = served_entry(server, b"tampered" * 100, registered=b"original" * 100)
    with pytest.raises(WeightsError, match="sha256 .* expected .* partial file was removed"):
        weights.fetch(entry, progress=False)
    assert list((isolated / "test").iterdir()) == []


def test_unreachable_url_is_one_clear_error(isolated, server):
    entry = replace(served_entry(server, b"data"), url=server[1] + "/missing.pth")
    with pytest.raises(WeightsError, match=r"cannot download test/model from .*/missing.pth \(HTTP 404 "):
        weights.fetch(entry, progress=False)
    assert list((isolated / "test").iterdir()) == []


def test_resolve_downloads_when_missing_and_replaces_a_corrupt_cache(isolated, server, monkeypatch):
    data = b"weights!" * 512
    entry = served_entry(server, data)
    monkeypatch.setitem(weights.REGISTRY, entry.name, entry)
    path = weights.resolve(entry.name, progress=False)
    assert path.read_bytes() == data
    path.write_bytes(b"bit rot")
    assert weights.resolve(entry.name, progress=False).read_bytes() == data
    monkeypatch.setenv(weights.ENV_OFFLINE, "1")
    assert weights.resolve(entry.name) == path  # a verified cached copy needs no network


def test_cli_list_and_fetch(isolated, monkeypatch, capsys, weights_dir):
    monkeypatch.setenv(weights.ENV_DIR, str(weights_dir))
    monkeypatch.setenv(weights.ENV_OFFLINE, "1")  # everything is present: fetch must not download
    code, out, _ = run(capsys, "weights", "list")
    assert code == 0 and "Collaborative Distillation" in out and "MIT" in out
    assert out.count(str(weights_dir)) == len(weights.REGISTRY) and "MicroAST" in out
    code, out, _ = run(capsys, "weights", "fetch", "cd16x")
    assert code == 0 and len(out.splitlines()) == 10 and str(weights_dir / "cd16x" / "5SD.pth") in out
    code, _, err = run(capsys, "weights", "fetch", "vgg")
    assert code == 1 and err.startswith("error: unknown weights 'vgg'") and err.count("\n") == 1


def test_cli_list_shows_missing(isolated, capsys):
    code, out, _ = run(capsys, "weights", "list")
    assert code == 0 and out.count("not downloaded") == len(weights.REGISTRY)
