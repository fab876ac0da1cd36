"""The SVG flavours the bridge serves for a finished paint job: the stroke file as it is, and the
editor flavours (flat shapes for Krita's vector layer, outlines for GIMP's paths) placed at the
region's corner in the editor's image."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from brushwork import svg
from brushwork.server.app import create_app
from brushwork.server.jobs import JobManager
from brushwork.server.worker import Picture

from conftest import random_list

TOKEN = "test-token"


@pytest.fixture
def finished_paint():
    """An API whose job queue never runs, holding one paint job marked done with a known painting."""
    manager = JobManager()
    painting = random_list(4, count=20, width=80, height=60)
    job = manager.submit("paint", {}, Picture(80, 60, bytes(80 * 60 * 4)), None)
    with manager.lock:
        manager.queue.remove(job)
        job.png, job.svg, job.width, job.height = b"\x89PNG", svg.write(painting), 80, 60
        manager._finish(job, "done", "done")
    asgi, _ = create_app(manager, TOKEN)
    with TestClient(asgi, base_url="http://127.0.0.1:8123", headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        yield api, job.id, painting
    manager.close()


def test_stroke_file_is_served_as_written(finished_paint):
    api, job_id, painting = finished_paint
    response = api.get(f"/v1/jobs/{job_id}/result.svg")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert svg.read(response.text) == painting


@pytest.mark.parametrize("flavour, write", [("flat", svg.write_flat), ("outlines", svg.write_outlines)])
def test_editor_flavours_are_placed_at_the_region(finished_paint, flavour, write):
    api, job_id, painting = finished_paint
    response = api.get(f"/v1/jobs/{job_id}/result.svg", params={"flavour": flavour, "x": 30, "y": 12})
    assert response.status_code == 200, response.text
    assert response.text == write(painting, (30, 12))
    root = ET.fromstring(response.text)
    assert [e.get("data-brush") for e in root.iter() if e.get("data-brush")] == [s.kind for s in painting.strokes]


@pytest.mark.parametrize("query, message", [
    ({"flavour": "pdf"}, "flavour"),
    ({"flavour": "flat", "x": -1}, "x"),
    ({"x": 5}, "x and y apply to the flat and outlines flavours only"),
])
def test_bad_flavour_requests_are_refused_with_the_parameter_named(finished_paint, query, message):
    api, job_id, _ = finished_paint
    response = api.get(f"/v1/jobs/{job_id}/result.svg", params=query)
    assert response.status_code == 422
    assert message in response.json()["detail"]
