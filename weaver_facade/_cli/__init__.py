"""The commands of ``weaver-facade`` (see ``weaver_facade.cli``); private modules.

``_state`` holds the per-invocation state and turns facade errors into exit
codes, ``_output`` renders results as rich tables or stable JSON,
``_progress`` shows operations being waited for, ``checkpoints`` and
``operations`` are the command groups, and ``contract`` runs the contract kit.
"""
