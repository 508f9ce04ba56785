"""`textlstm translate`: translate with a saved translation model.

```
textlstm translate runs/translate_demo/model.keras "the 3rd of March 2021" "3/3/21"
printf '3 mar 2021\\n1999 May 1\\n' | textlstm translate runs/translate_demo/model.keras --greedy
textlstm translate --json --beam-width 8 MODEL TEXT   # {"source": ..., "translation": ...} per line
```

Options go before MODEL or after the last TEXT (argparse does not take them between).

Output: one translation per line, in input order, so `textlstm translate
MODEL < src.txt > out.txt` keeps lines aligned; an empty input line gives an
empty output line. `--json` prints JSON lines instead. Decoding is beam
search with the model's `beam_width` unless `--beam-width K` or `--greedy`.
"""

from __future__ import annotations

import json
import sys


def add_translate_arguments(parser) -> None:
    parser.add_argument("model", help="model.keras written by `textlstm train` for a translation pipeline")
    parser.add_argument("texts", nargs="*", help="texts to translate (none: one per line on standard input)")
    decoding = parser.add_mutually_exclusive_group()
    decoding.add_argument(
        "--beam-width", type=int, default=None, metavar="K", help="beam width (default: the model's beam_width)"
    )
    decoding.add_argument("--greedy", action="store_true", help="greedy decoding (same as --beam-width 1)")
    parser.add_argument("--json", action="store_true", help='print {"source", "translation"} JSON lines')


def _read_lines(texts: list[str]) -> list[str]:
    if texts:
        return texts
    if sys.stdin is None or sys.stdin.isatty():
        raise SystemExit("error: give texts as arguments or one per line on standard input")
    return [line.rstrip("\r\n") for line in sys.stdin]


def translate_command(args) -> int:
    from textlstm.artifact import ArtifactError, load

    if args.beam_width is not None and args.beam_width < 1:
        raise SystemExit("error: --beam-width must be >= 1")
    model = load(args.model)
    if not hasattr(model, "translate"):
        raise ArtifactError(
            f"{args.model}: not a translation model (task {model.config.task!r}); use `textlstm predict`"
        )
    texts = _read_lines(args.texts)
    keep = [i for i, t in enumerate(texts) if t.strip()]
    outputs = [""] * len(texts)
    for i, out in zip(
        keep, model.translate([texts[i] for i in keep], beam_width=1 if args.greedy else args.beam_width)
    ):
        outputs[i] = out
    for text, out in zip(texts, outputs):
        print(json.dumps({"source": text, "translation": out}, ensure_ascii=False) if args.json else out)
    return 0
