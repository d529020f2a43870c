"""The ``weaver_facade`` logger: ``WEAVER_LOG`` (``configure_logging``), and the command
line's words for the library calls that its WARNINGs and errors' notes name
(``warn_naming_calls``, ``give_cli_words``), which the command line shows instead."""

from __future__ import annotations

import ast
import functools
import logging
import os
import re
import shlex

from ._errors import RESUME_CALL, RESUME_COMMANDS, note_cli_words

logger = logging.getLogger("weaver_facade")

_LOG_LEVELS = ("debug", "info", "warning", "error")


# The library's calls (and errors) that a WARNING or a note names, in the command line's
# words; "{}" stands for a checkpoint's path, which the call writes as Python does (repr)
# and the command as a shell takes it (shlex.quote): a name may hold a quote or a space.
_CLI_WORDS = {
    "service.list_models()": "`weaver-facade models list`",
    "terminate_model()": "`weaver-facade models terminate`",
    "export_weights(..., force=True)": "`weaver-facade checkpoints export --force`",
    "export_weights(..., merge_adapter=True)": "`weaver-facade checkpoints export --merge-adapter`",
    "list_checkpoints()": "`weaver-facade checkpoints list MODEL_ID`",
    "export_weights()": "`weaver-facade checkpoints export`",
    "trainer.get_checkpoint({})": "`weaver-facade checkpoints show {}`",
    "download_weights({}, dest)": "`weaver-facade checkpoints download {} -o DIR`",
    "service.list_artifacts({})": "`weaver-facade checkpoints artifacts {}`",
    "raises CheckpointExistsError": "fails, its name taken",
    RESUME_CALL: RESUME_COMMANDS,
    "(ModelStateLostError)": "(`model_state_lost`)",
    "trainer.export_weights(checkpoint)": "`weaver-facade checkpoints export PATH`",
    # A create interrupted (Ctrl-C): the command ends with the close that terminates it.
    "create_model to end, so that the model it makes is terminated on close": (
        "the model's create to end, so that the model it makes is terminated as the command ends"
    ),
    "create_model: interrupted while model": "interrupted while model",
    "the client's close terminates it": "the command terminates it as it ends",
}


# A path as repr writes it: in quotes of one kind, the other kind and escapes inside.
_PATH_LITERAL = r"'weaver://(?:[^'\\\n]|\\.)*'|" r'"weaver://(?:[^"\\\n]|\\.)*"'


def in_cli_words(text: str) -> str:
    """``text`` with the library's calls it names in the command line's words."""
    for call, command in _CLI_WORDS.items():
        before, path, after = call.partition("{}")
        # A whole call: the list_checkpoints() of trainer.list_checkpoints() is no command.
        named = rf"(?<![\w.]){re.escape(before)}"
        if path:
            named += rf"({_PATH_LITERAL}){re.escape(after)}"
        text = re.sub(named, functools.partial(_named, command), text)
    return text


def _named(command: str, call: re.Match[str]) -> str:
    """``command`` with the path that ``call`` names, if any, quoted for a shell."""
    return command.format(*(shlex.quote(ast.literal_eval(path)) for path in call.groups()))


def give_cli_words(exc: BaseException) -> None:
    """Give ``exc``'s text and notes that name library calls the command line's words
    (``note_cli_words``), as a WARNING's ``cli_message`` has them."""
    for said in (str(exc), *getattr(exc, "__notes__", [])):
        if (cli := in_cli_words(said)) != said:
            note_cli_words(exc, said, cli)


def note_naming_calls(exc: BaseException, note: str) -> None:
    """Add ``note``, which names library calls, to ``exc``, with the command line's words
    for them (``note_cli_words``)."""
    exc.add_note(note)
    give_cli_words(exc)


def warn_naming_calls(said: str, *, left_running: bool = False) -> None:
    """Log the WARNING ``said``, which names library calls, with the command line's words
    for them as ``cli_message``, which its stderr handler shows instead (``_cli._progress``);
    ``left_running``: it says something may be left running on the server, which the
    command line shows even with ``-q``."""
    cli = in_cli_words(said)
    logger.warning("%s", said, extra={"cli_message": cli, "left_running": left_running})


_bad_levels_reported: set[str] = set()


def configure_logging(env: str | None = None) -> None:
    """Apply ``WEAVER_LOG`` (``debug``, ``info``, ``warning`` or ``error``), as the README's
    "Retries are visible" says. Any other value is an ERROR record, once in a process of
    many clients: a log asked for and not given, which the command line's ``-q`` does not
    hide."""
    raw = env if env is not None else os.environ.get("WEAVER_LOG", "")
    level_name = raw.strip().lower()
    if not level_name:
        return
    if level_name not in _LOG_LEVELS:
        if raw in _bad_levels_reported:
            return
        _bad_levels_reported.add(raw)
        logger.error("WEAVER_LOG=%r is not a log level; use one of %s", raw, ", ".join(_LOG_LEVELS))
        return
    logger.setLevel(getattr(logging, level_name.upper()))
    if not any(map(_is_env_handler, logger.handlers)):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler._weaver_env_handler = True  # type: ignore[attr-defined]
        handler.addFilter(_not_shown_by_root)
        logger.addHandler(handler)


def _not_shown_by_root(record: logging.LogRecord) -> bool:
    """Whether no handler of the root logger (``logging.basicConfig``) prints ``record`` where
    ``WEAVER_LOG``'s handler does: on its stream, or another of the same file (stdout, where
    it is the terminal stderr is, or ``2>&1``): that one then shows it, not a second copy.
    One that writes elsewhere (another file, pytest's capture), or drops it, leaves it to
    this one."""
    if not logger.propagate:
        return True
    ours = [getattr(h, "stream", None) for h in logger.handlers if _is_env_handler(h)]
    return not any(
        any(_same_file(getattr(h, "stream", None), stream) for stream in ours)
        and record.levelno >= h.level
        and h.filter(record)
        for h in logging.root.handlers
    )


def _same_file(one: object, other: object) -> bool:
    """Whether two streams write to the same file (a terminal, a pipe, a file)."""
    if one is other:
        return one is not None
    mine, theirs = _file_of(one), _file_of(other)
    return mine is not None and theirs is not None and os.path.samestat(mine, theirs)


def _file_of(stream: object) -> os.stat_result | None:
    fileno = getattr(stream, "fileno", None)
    try:
        found = os.fstat(fileno()) if callable(fileno) else None
    except (OSError, ValueError, TypeError):  # no file (a StringIO, pytest's), or closed
        return None
    # Windows gives a pipe or a console no file id (0): any two would compare the same.
    return found if found is not None and found.st_ino else None


def _is_env_handler(handler: logging.Handler) -> bool:
    return getattr(handler, "_weaver_env_handler", False) is True
