"""The USE-lite SentencePiece tokenizer in Python, id for id with the TF.js one.

Oracle: `Tokenizer` of `@tensorflow-models/universal-sentence-encoder` (dist/tokenizer), vocab `models/use-lite/vocab.json`.
The TypeScript twin is `src/text/tokenizer/index.ts`; both are checked against `test/fixtures/tokenizer-cases.json`.

Behaviour (quirks included, see section 5 of the USE-lite spec):

* ``NFKC``; no lowercasing/trimming. Empty after NFKC -> ``[]``. Then ``'▁' + s.replace(' ', '▁')`` (U+0020 only).
* Symbols are UTF-16 **code units** (the JS splits strings with a down-levelled ``for...of``), so an astral
  character is two symbols (a surrogate pair), which normally become one merged unk.
* Trie of pieces 6..7999 in id order, a later duplicate overwrites the earlier one; ``null`` scores count as 0. Where
  no piece is a prefix, a single-symbol unk (id 0, score 0) is the only candidate.
* Viterbi with ``best`` initialised to 0 and 0 doubling as "unset": a candidate wins when
  ``best[end] == 0 or score >= best[end]``; starts in ascending order, shorter pieces first.
* Backtrack by the UTF-16 length of the chosen piece; merge runs of unk into one 0. No BOS/EOS, no truncation.

Speed: no vocab piece contains '▁' after its first symbol (checked at load), so no lattice edge crosses a '▁'. The
string splits into '▁'-segments ("▁word") that share only their boundary value ``best[start]``. The lattice edges of
a segment depend on the segment alone and are cached per segment; the Viterbi relaxation and the backtrack are run
per segment every time, starting from the carried-over boundary value (the relaxation result itself is not cached:
it is not offset-invariant in floating point, and the ``best == 0`` sentinel depends on absolute values, so a
per-word result cache would not be exact).

Unicode version: Python's ``unicodedata`` (3.11: Unicode 14.0) is older than Node 22's ICU (Unicode 17.0). The only
single characters whose NFKC differs between the two are 99 characters assigned after 14.0 (U+A7F1, the outlined
Latin letters/digits U+1CCD6..U+1CCF9, the Cyrillic modifier letters U+1E030..U+1E06D); they are pre-mapped here
(`_POST14_NFKC`) for the characters this Python does not know. Not reproduced: canonical reordering and composition
involving combining marks/scripts added after 14.0 (Python treats them as unassigned, ccc 0). Those characters are
unk in this vocab, so ids can only differ in rare contrived sequences (listed in tests/test_tokenizer.py if the
fixture hits one).
"""

from __future__ import annotations

import json
import unicodedata
from array import array
from typing import Dict, List, Optional, Sequence, Tuple, Union

__all__ = ["Tokenizer", "RESERVED_SYMBOLS", "UNK_ID"]

RESERVED_SYMBOLS = 6  # ids 0..5 (unk, <s>, </s>, extra_token_id_1..3) are never in the trie
UNK_ID = 0
SEPARATOR = "\u2581"

# NFKC of characters assigned after Unicode 14.0, taken from Node 22 (ICU 78, Unicode 17.0).
_POST14_NFKC_ALL: Dict[int, str] = {0xA7F1: "S"}
_POST14_NFKC_ALL.update({0x1CCD6 + i: chr(0x41 + i) for i in range(26)})  # outlined A..Z
_POST14_NFKC_ALL.update({0x1CCF0 + i: chr(0x30 + i) for i in range(10)})  # outlined 0..9
_POST14_NFKC_ALL.update(
    {
        0x1E030 + i: c
        for i, c in enumerate(
            "\u0430\u0431\u0432\u0433\u0434\u0435\u0436\u0437\u0438\u043a\u043b\u043c\u043e\u043f\u0440\u0441\u0442"
            "\u0443\u0444\u0445\u0446\u0447\u0448\u044b\u044d\u044e\ua689\u04d9\u0456\u0458\u04e9\u04af\u04cf\u0430"
            "\u0431\u0432\u0433\u0434\u0435\u0436\u0437\u0438\u043a\u043b\u043e\u043f\u0441\u0443\u0444\u0445\u0446"
            "\u0447\u0448\u044a\u044b\u0491\u0456\u0455\u045f\u04ab\ua651\u04b1"
        )
    }
)
# Only the ones this Python's unicodedata does not know (on a newer Python the table is empty).
_POST14_NFKC: Dict[int, str] = {
    cp: s for cp, s in _POST14_NFKC_ALL.items() if unicodedata.category(chr(cp)) == "Cn"
}
_POST14_MIN = chr(min(_POST14_NFKC)) if _POST14_NFKC else None


def nfkc(text: str) -> str:
    """``text.normalize('NFKC')`` as Node 22 does it (see the module docstring for the known limits)."""
    if _POST14_MIN is not None and not text.isascii() and max(text) >= _POST14_MIN:
        text = text.translate(_POST14_NFKC)
    return unicodedata.normalize("NFKC", text)


def _utf16_units(s: str) -> str:
    """`s` as a str of UTF-16 code units (astral characters become two lone-surrogate characters)."""
    if not s or max(s) <= "\uffff":
        return s
    units = array("H", s.encode("utf-16-le", "surrogatepass"))
    return "".join(map(chr, units))


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


# A lattice edge inside a segment: (start, end, id, score), relative to the segment's first symbol.
_Edge = Tuple[int, int, int, float]


class Tokenizer:
    """USE-lite tokenizer. Build once (``Tokenizer.from_file('models/use-lite/vocab.json')``), then ``encode``.

    >>> tok = Tokenizer.from_file("models/use-lite/vocab.json")  # doctest: +SKIP
    >>> tok.encode("Hello world.")  # doctest: +SKIP
    [341, 4125, 311, 6]
    """

    def __init__(self, vocab: Sequence[Sequence[Union[str, float, int, None]]], cache_size: int = 200_000):
        if not vocab or not isinstance(vocab[0][0], str) or not vocab[0][0]:
            raise ValueError("vocab[0] must be the (non-empty) unk piece")
        self.vocab_size = len(vocab)
        self._piece_len: List[int] = [_utf16_len(str(p[0])) for p in vocab]
        # Trie as nested dicts keyed by one UTF-16 code unit; a node is [children, id, score] (id -1 = no piece).
        root: list = [{}, -1, 0.0]
        separator_inside = False
        for i in range(RESERVED_SYMBOLS, len(vocab)):
            piece, score = vocab[i][0], vocab[i][1]
            units = _utf16_units(str(piece))
            if not units:
                continue
            if SEPARATOR in units[1:]:
                separator_inside = True
            node = root
            for u in units:
                child = node[0].get(u)
                if child is None:
                    child = node[0][u] = [{}, -1, 0.0]
                node = child
            node[1] = i
            node[2] = float(score) if score is not None else 0.0
        self._root = root
        # Segment caching is exact only if no piece can cross a '▁' (true for the USE vocab).
        self._segment_cache: Optional[Dict[str, List[_Edge]]] = None if separator_inside else {}
        self._cache_size = cache_size

    @classmethod
    def from_file(cls, path: str) -> "Tokenizer":
        with open(path, "r", encoding="utf-8") as f:
            return cls(json.load(f))

    def _edges(self, units: str, lo: int, hi: int) -> List[_Edge]:
        """Lattice edges of units[lo:hi] (relative to lo), start ascending, shorter first."""
        root_children = self._root[0]
        edges: List[_Edge] = []
        for start in range(lo, hi):
            node = root_children.get(units[start])
            matched = False
            k = start + 1
            while node is not None:
                if node[1] >= 0:
                    edges.append((start - lo, k - lo, node[1], node[2]))
                    matched = True
                if k >= hi:
                    break
                node = node[0].get(units[k])
                k += 1
            if not matched:
                edges.append((start - lo, start - lo + 1, UNK_ID, 0.0))
        return edges

    def encode(self, text: str) -> List[int]:
        """Token ids of ``text``, exactly as the TF.js tokenizer returns them."""
        s = nfkc(text)
        if not s:
            return []
        units = _utf16_units(SEPARATOR + s.replace(" ", SEPARATOR))
        cache = self._segment_cache
        if cache is None:
            segments = [self._edges(units, 0, len(units))]
        else:
            # No piece crosses a '▁', so the lattice splits into '▁'-segments that only share their boundary value.
            if len(cache) > self._cache_size:
                cache.clear()
            segments = []
            for word in units.split(SEPARATOR)[1:]:  # units starts with '▁'
                edges = cache.get(word)
                if edges is None:
                    edges = cache[word] = self._edges(SEPARATOR + word, 0, len(word) + 1)
                segments.append(edges)

        piece_len = self._piece_len
        path: List[int] = []  # ids, last piece first
        base = 0.0  # best[] at the current segment's start (final: no edge crosses it)
        for edges in segments:
            # Forward Viterbi over this segment in ascending start order (the JS's per-end candidate order), with
            # best[0] = base and 0 meaning "unset" everywhere, exactly as in the JS over the whole string.
            m = edges[-1][1]  # the segment's length: its last edge ends at its end
            best = [0.0] * (m + 1)
            words = [0] * (m + 1)
            best[0] = base
            for start, end, pid, score in edges:
                sc = score + best[start]
                cur = best[end]
                if cur == 0 or sc >= cur:
                    best[end] = sc
                    words[end] = pid
            base = best[m]
            # Backtrack inside the segment (chosen pieces start inside it; an unreached position holds unk, length 1).
            seg: List[int] = []
            it = m
            while it > 0:
                w = words[it]
                seg.append(w)
                it -= piece_len[w]
            seg.reverse()
            path.extend(seg)

        # Merge runs of unk.
        if UNK_ID not in path:
            return path
        out: List[int] = []
        prev_unk = False
        for w in path:
            if not (prev_unk and w == UNK_ID):
                out.append(w)
            prev_unk = w == UNK_ID
        return out

    def encode_batch(self, texts: Sequence[str]) -> List[List[int]]:
        return [self.encode(t) for t in texts]
