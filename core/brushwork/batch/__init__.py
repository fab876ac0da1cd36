"""Many pictures through one per-item function, on this machine or on a Ray cluster.

    from brushwork.batch import PaintTask, paint_items, pictures, run_batch
    items = paint_items(pictures(["photos/"]), Path("out"), PaintTask(Path(), Path(), PaintSettings(strokes=300)))
    summary = run_batch(items, jobs=2)

`tasks` is the work for one picture (what `brushwork paint` and `brushwork stylize` run), `items` names
a batch's pictures and their outputs, `manifest` says when an item is complete, `run` runs the items
locally and `ray_cluster` as Ray tasks, `api` from paths and settings as `brushwork batch` does:

    summary = brushwork.batch("paint", ["photos/"], "out", PaintSettings(strokes=300), progress=fn)

(the package itself is callable: `brushwork.batch(...)` is `brushwork.batch.run_pictures(...)`).
"""


from brushwork.batch.api import BatchCancelled, BatchProgress, run_pictures
from brushwork.batch.items import Item, paint_items, pictures, style_items
from brushwork.batch.run import EXECUTORS, Outcome, Summary, process, run_batch, threads_per_worker
from brushwork.batch.tasks import PaintResult, PaintTask, StyleResult, StyleTask
from brushwork.callable_package import make_callable

__all__ = ["EXECUTORS", "BatchCancelled", "BatchProgress", "Item", "Outcome", "PaintResult", "PaintTask",
           "StyleResult", "StyleTask", "Summary",
           "paint_items", "pictures", "process", "run_batch", "run_pictures", "style_items",
           "threads_per_worker"]


make_callable(__name__, run_pictures)  # brushwork.batch(...) is run_pictures(...)
