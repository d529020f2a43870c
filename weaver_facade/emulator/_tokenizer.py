"""The emulator's tokenizer: UTF-8 bytes as token ids, in Hugging Face's file layout.

Every base model reads text as bytes (``list("text".encode())``). A Model reply's
``tokenizer_path`` names a folder with this tokenizer, so that the official SDK's
``get_tokenizer()`` (``AutoTokenizer.from_pretrained(tokenizer_path)``) works on
the machine the emulator runs on.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_byte_tokenizer"]


def _byte_chars() -> dict[int, str]:
    """Byte-level BPE's printable stand-in for each byte (as in GPT-2's tokenizer)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    others = [b for b in range(256) if b not in printable]
    chars = {b: chr(b) for b in printable}
    chars.update({b: chr(256 + n) for n, b in enumerate(others)})
    return chars


def write_byte_tokenizer(directory: Path) -> Path:
    """Write the tokenizer's files into ``directory`` (made if missing); return it."""
    byte_level = {
        "type": "ByteLevel",
        "add_prefix_space": False,
        "trim_offsets": False,
        "use_regex": False,
    }
    tokenizer: dict[str, object] = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": None,
        "decoder": byte_level,
        # No merges: each byte is one token, whose id is the byte's value.
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {char: b for b, char in _byte_chars().items()},
            "merges": [],
        },
    }
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False}
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in (("tokenizer.json", tokenizer), ("tokenizer_config.json", config)):
        (directory / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return directory
