"""model - embedpipe.Model: texts to float32 vectors through libembedpipe's ep_embedder."""
from __future__ import annotations

import ctypes
import os
import threading
from typing import Iterable, List, Optional, Sequence, Union

import numpy as np

from . import _lib


class Model(_lib.HandleOwner):
    """A sentence-transformers model folder loaded once, embedding texts on the CPU (or CUDA).

    The vectors are those `embedpipe embed` computes (it stores their float16 cast), which are
    those of `SentenceTransformer(path).encode(texts)` to float32 rounding: same tokenizer,
    truncation at the model's max_seq_length, pooling and normalisation.

    Options are the command line's flags of the same names: device ("auto", "cpu", "cuda",
    "cuda:N"), precision ("auto", the default: bf16 on
    an AMX or AMD Zen 5 CPU, else fp32; or "fp32", "bf16", "int8", ...), threads (0 = all cores), max_seq_length (0 = the
    model's), batch_tokens (0 = the device's choice), prompt (one of the model's prompts by name,
    e.g. "query"; None = the model's default prompt, as sentence-transformers' encode), prompt_text (a
    prompt as text, e.g. "passage: "; "" = none), dim (keep the first dim values: Matryoshka; 0 = the
    model's width).
    """

    def __init__(self, path: Optional[Union[str, os.PathLike]] = None, *, device: str = "auto",
                 precision: Optional[str] = None, threads: int = 0, max_seq_length: int = 0,
                 batch_tokens: int = 0, prompt: Optional[str] = None, prompt_text: Optional[str] = None,
                 dim: int = 0) -> None:
        if path is None:
            path = os.environ.get("EMBEDPIPE_MODEL")
            if not path:
                raise ValueError("Model(path): give the model folder (e.g. models/all-MiniLM-L6-v2) or set "
                                 "EMBEDPIPE_MODEL")
        self.path = os.fspath(path)
        self._lock = threading.Lock()  # the library's rule: a handle is used by one thread at a time
        lib = _lib.lib()
        err = _lib.new_error()
        options = lib.ep_embedder_options_create()
        if not options:
            raise MemoryError("ep_embedder_options_create")
        self._handle = None
        try:
            settings = {"device": device, "threads": str(threads), "max_seq_length": str(max_seq_length),
                        "batch_tokens": str(batch_tokens)}
            if precision is not None:
                settings["precision"] = precision
            if prompt is not None:
                settings["prompt"] = prompt
            if prompt_text is not None:
                settings["prompt_text"] = prompt_text
            if dim:
                settings["dim"] = str(dim)
            for name, value in settings.items():
                _lib.check(lib.ep_embedder_options_set(options, name.encode(), str(value).encode(), err), err)
            handle = ctypes.c_void_p()
            _lib.check(lib.ep_embedder_create(self.path.encode(), options, ctypes.byref(handle), err), err)
            self._handle = handle
        finally:
            lib.ep_embedder_options_free(options)
        self.dim: int = lib.ep_embedder_dim(self._handle)
        self.max_seq_length: int = lib.ep_embedder_max_seq_length(self._handle)
        self.normalized: bool = bool(lib.ep_embedder_normalized(self._handle))
        self.device: str = lib.ep_embedder_device(self._handle).decode()

    def encode(self, texts: Union[str, Sequence[str], Iterable[str]], batch_size: Optional[int] = None,
               normalize: bool = True) -> np.ndarray:
        """Embeds texts: a (len(texts), dim) float32 array, or a (dim,) one for a single str.

        batch_size: texts per call into the library (None, the default: all in one call). The
        library sorts each call's texts by length and batches them by tokens, as `embed` does, so
        one call gives the command line's rows bit for bit; smaller calls bound memory and can move
        a row's last float32 bits (about 1e-7), as sentence-transformers' batch_size does.
        normalize: L2-normalise each row. Models with a Normalize module (all-MiniLM-L6-v2) are
        normalised by the model itself, whatever this says, as in sentence-transformers.
        """
        if self._handle is None:
            raise ValueError("encode on a closed Model")
        single = isinstance(texts, str)
        items: List[str] = [texts] if isinstance(texts, str) else list(texts)
        for i, t in enumerate(items):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] is {type(t).__name__}, not str")
        out = np.empty((len(items), self.dim), dtype=np.float32)
        step = len(items) if not batch_size else int(batch_size)
        if step < 0:
            raise ValueError("batch_size must be positive")
        for start in range(0, len(items), max(step, 1)):
            self._encode_into(items[start:start + step], out[start:start + step])
        if normalize and not self.normalized and len(items):
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            np.divide(out, norms, out=out, where=norms > 0)
        return out[0] if single else out

    def _encode_into(self, texts: Sequence[str], out: np.ndarray) -> None:
        n = len(texts)
        if n == 0:
            return
        raw = [t.encode("utf-8", "surrogatepass") for t in texts]  # lone surrogates: the library reads U+FFFD
        ptrs = (ctypes.c_char_p * n)(*raw)
        lengths = (ctypes.c_size_t * n)(*map(len, raw))
        err = _lib.new_error()
        lib = _lib.lib()
        with self._lock:  # ctypes lets go of the GIL during the call
            _lib.check(lib.ep_embedder_encode(self._handle, ptrs, lengths, n, out.ctypes.data, err), err)

    def close(self) -> None:
        """Frees the model and its device (also done when the Model is garbage-collected)."""
        self._release("ep_embedder_free")

    def __repr__(self) -> str:
        return f"embedpipe.Model({self.path!r}, dim={self.dim}, device={self.device!r})"
