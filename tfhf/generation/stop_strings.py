"""Stop strings, checked on decoded text between chunks of the compiled loop.

Semantics of transformers' ``StopStringCriteria``: a row stops at the first new token that
completes a stop string, i.e. the string occurs in the decoded text and overlaps that token
(the text before the token does not contain that occurrence). The prompt counts as context,
so a stop string that starts in the prompt and ends in a new token stops too.
"""

from __future__ import annotations

from ..errors import InvalidInputError


class StopStringChecker:
    def __init__(self, stop_strings, tokenizer):
        if isinstance(stop_strings, str):
            stop_strings = [stop_strings]
        stop_strings = list(stop_strings)
        if not stop_strings or not all(isinstance(s, str) and s for s in stop_strings):
            raise InvalidInputError(
                "generate: `stop_strings` must be a non-empty string or list of non-empty "
                f"strings, got {stop_strings!r}.")
        if tokenizer is None:
            raise InvalidInputError(
                "generate: `stop_strings` needs the model's tokenizer: pass `tokenizer=` to "
                "generate (the stop strings are matched on decoded text).")
        self.stop_strings = stop_strings
        self.tokenizer = tokenizer
        # tokens decoded around the last one: enough for the longest string, one char a token
        self.window = max(len(s) for s in stop_strings) + 2

    def _decode(self, ids):
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def completes(self, tokens, index):
        """Whether ``tokens[index]`` completes a stop string (``tokens``: a row's real tokens,
        prompt included)."""
        lo = max(0, index - self.window + 1)
        text = self._decode(tokens[lo:index + 1])
        prev_len = len(self._decode(tokens[lo:index])) if index > lo else 0
        for s in self.stop_strings:
            i = text.rfind(s)
            if i >= 0 and i + len(s) > prev_len:
                return True
        return False

    def first_stop(self, tokens, first_new, end):
        """The first index in ``[first_new, end)`` whose token completes a stop string."""
        for index in range(first_new, end):
            if self.completes(tokens, index):
                return index
        return None
