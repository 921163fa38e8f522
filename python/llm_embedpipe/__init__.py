"""llm_embedpipe - an `llm` plugin (https://llm.datasette.io) that embeds through embedpipe.

Installed with the embedpipe package (`pip install ./python` into llm's environment); llm finds it
through the "llm" entry point. It registers one embedding model per model folder it finds, with the
id "embedpipe/<folder name>" (e.g. embedpipe/all-MiniLM-L6-v2), the id `embedpipe export --to llm`
gives its collections, so that `llm similar NAME -c TEXT` embeds the query the same way:

  - $EMBEDPIPE_MODEL, a model folder;
  - every folder with a config.json under ./models and ${XDG_DATA_HOME:-~/.local/share}/embedpipe/models,
    where the command line looks (scripts/fetch-model.sh --user puts all-MiniLM-L6-v2 there).

The model is loaded on first use and kept for the process; options come from
$EMBEDPIPE_DEVICE and $EMBEDPIPE_THREADS when set.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Union

import llm

PREFIX = "embedpipe/"


def model_folders() -> Dict[str, str]:
    """{model id: folder} of every model folder the plugin can see (first found wins)."""
    found: Dict[str, str] = {}

    def add(folder: Path) -> None:
        if (folder / "config.json").is_file():
            found.setdefault(PREFIX + folder.resolve().name, str(folder.resolve()))

    env = os.environ.get("EMBEDPIPE_MODEL")
    if env:
        add(Path(env))
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    roots = ["models", os.path.join(data_home, "embedpipe", "models")]
    for root in roots:
        base = Path(root)
        if base.is_dir():
            for child in sorted(base.iterdir()):
                add(child)
    return found


class EmbedpipeEmbeddingModel(llm.EmbeddingModel):
    """An embedpipe model folder as an llm embedding model (text only, float32 vectors)."""

    supports_text = True
    supports_binary = False
    batch_size = 256

    def __init__(self, model_id: str, folder: str) -> None:
        self.model_id = model_id
        self.folder = folder
        self._model = None

    def _loaded(self):
        if self._model is None:
            import embedpipe
            options = {}
            if os.environ.get("EMBEDPIPE_DEVICE"):
                options["device"] = os.environ["EMBEDPIPE_DEVICE"]
            if os.environ.get("EMBEDPIPE_THREADS"):
                options["threads"] = int(os.environ["EMBEDPIPE_THREADS"])
            self._model = embedpipe.Model(self.folder, **options)
        return self._model

    def embed_batch(self, items: Iterable[Union[str, bytes]], *, key: Optional[str] = None) -> Iterator[List[float]]:
        """Embeds items (bytes are read as UTF-8) in one call into the library; key is unused."""
        texts = [t.decode("utf-8", "replace") if isinstance(t, bytes) else t for t in items]
        for row in self._loaded().encode(texts):
            yield row.tolist()


@llm.hookimpl
def register_embedding_models(register) -> None:
    for model_id, folder in model_folders().items():
        register(EmbedpipeEmbeddingModel(model_id, folder))
