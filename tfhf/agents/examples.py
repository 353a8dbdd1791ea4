"""Worked examples of the run prompt, chosen per task.

A small model copies its examples more than it reads tool descriptions: with three fixed
examples it summarized with ``text_qa`` and classified topics with the sentiment tool whenever
the task looked like none of them. So the default run template has an ``<<examples>>``
placeholder, filled with the few examples of :data:`EXAMPLES` closest to the task (TF-IDF over
the words of the task and the kinds of the variables passed in), among those whose tools are
all in the agent's toolbox. The bank covers each curated tool alone, the usual chains, loops,
a task that needs no tool and a task no tool can do; its tasks, variable names and wording are
not the evaluation's (``scripts/eval_agent.py``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["EXAMPLES", "WorkedExample", "render_examples", "select_examples"]


@dataclass(frozen=True)
class WorkedExample:
    """One worked example: the task, its ``Variables:`` line, the kinds of those variables
    (``str``, ``url``, ``list``, ``audio``, ``image``), the one-sentence plan that follows the
    prefill "I will use the following", the program, and the tools it calls."""

    task: str
    variables: str
    kinds: tuple
    plan: str
    code: str
    tools: tuple = ()
    keywords: str = ""

    def render(self) -> str:
        return (f'Task: "{self.task}"\nVariables: {self.variables}\n\n'
                f"I will use the following {self.plan}\n\nAnswer:\n```py\n{self.code}\n```")


E = WorkedExample
EXAMPLES = (
    E("Does the `feedback` sound happy or unhappy?",
      '`feedback` (str, 58 characters: "The delivery was late again and nobody...")', ("str",),
      "tool: `text_classifier` to find the mood (the sentiment) of the feedback.",
      'mood = text_classifier(text=feedback)\nprint(f"The feedback is {mood}.")',
      ("text_classifier",)),
    E("Is the `email` a complaint, a question or a thank-you note?",
      '`email` (str, 164 characters: "Hello, the blender I ordered last week...")', ("str",),
      "tool: `zero_shot_classifier` to pick the kind of email among the three labels of the "
      "task.",
      'kind = zero_shot_classifier(text=email, labels=["complaint", "question", '
      '"thank-you note"])\nprint(f"The email is a {kind}.")',
      ("zero_shot_classifier",)),
    E("Tell me for each of the `answers` whether it sounds happy or unhappy.",
      '`answers` (list of 3 str, the first: "Yes, I would love to come!")', ("list",),
      "tool: `text_classifier` on each answer, since happy or unhappy is a sentiment.",
      'for answer in answers:\n    mood = text_classifier(text=answer)\n    print(f"{mood}: '
      '{answer}")', ("text_classifier",)),
    E("Pick the best of the `tags` for the `post`.",
      '`post` (str, 230 characters: "Ten easy dinners you can cook in less..."), `tags` '
      '(list of 4 str, the first: "food")', ("str", "list"),
      "tool: `zero_shot_classifier` with the `tags` variable as its labels.",
      'tag = zero_shot_classifier(text=post, labels=tags)\nprint(f"The best tag is {tag}.")',
      ("zero_shot_classifier",)),
    E("Give me the gist of the `letter` in a few words.",
      '`letter` (str, 640 characters: "Dear neighbours, as you may have heard...")', ("str",),
      "tool: `summarizer`, since the gist of a text is its summary.",
      'summary = summarizer(text=letter)\nprint(summary)', ("summarizer",)),
    E("According to the `memo`, when is the meeting?",
      '`memo` (str, 190 characters: "Team, the quarterly review moves to...")', ("str",),
      "tool: `text_qa` to answer that question from the memo.",
      'answer = text_qa(text=memo, question="When is the meeting?")\n'
      'print(f"The meeting is {answer}.")', ("text_qa",)),
    E("Read the page at `link` and tell me who wrote it.",
      "`link` (str, a web address: get its text with `text_downloader(url=link)` first)",
      ("str", "url"),
      "tools: `text_downloader` to get the text of the page, then `text_qa` to find its "
      "author in that text.",
      'page = text_downloader(url=link)\nauthor = text_qa(text=page, question="Who wrote this '
      'page?")\nprint(f"The author is {author}.")', ("text_downloader", "text_qa")),
    E("What is the site at `site_url` about, in short?",
      "`site_url` (str, a web address: get its text with `text_downloader(url=site_url)` "
      "first)", ("str", "url"),
      "tools: `text_downloader` to get the text of the site, then `summarizer` to shorten it.",
      'page = text_downloader(url=site_url)\nsummary = summarizer(text=page)\nprint(summary)',
      ("text_downloader", "summarizer")),
    E("Say the `greeting` in Dutch.",
      '`greeting` (str, 27 characters: "Welcome to our little shop!")', ("str",),
      "tool: `translator` to translate the greeting from English into Dutch.",
      'dutch = translator(text=greeting, src_lang="English", tgt_lang="Dutch")\nprint(dutch)',
      ("translator",)),
    E("Write down what is said in the `clip`.",
      "`clip` (audio, a recording: get its text with `transcriber(audio=clip)` first)",
      ("audio",),
      "tool: `transcriber` to turn the audio into text.",
      'words = transcriber(audio=clip)\nprint(words)', ("transcriber",)),
    E("Listen to the `voicemail` and tell me at what time the caller will come.",
      "`voicemail` (audio, a recording: get its text with `transcriber(audio=voicemail)` "
      "first)", ("audio",),
      "tools: `transcriber` to get the text of the voicemail, then `text_qa` to find the time "
      "in it.",
      'said = transcriber(audio=voicemail)\ntime = text_qa(text=said, question="At what time '
      'will the caller come?")\nprint(f"The caller will come at {time}.")',
      ("transcriber", "text_qa")),
    E("Shorten each of the `notes`, and tell me if each short version sounds happy or unhappy.",
      '`notes` (list of 4 str, the first: "Lunch with the bank went well, they...")',
      ("list",),
      "tools: `summarizer` to shorten each note, then `text_classifier` to find the sentiment "
      "of each short version.",
      'for note in notes:\n    short = summarizer(text=note)\n    mood = text_classifier('
      'text=short)\n    print(f"{mood}: {short}")', ("summarizer", "text_classifier")),
    E("Sort every one of the `messages` into spam or not spam.",
      '`messages` (list of 5 str, the first: "You won a free cruise, click here...")',
      ("list",),
      "tool: `zero_shot_classifier` on each message with the two labels of the task.",
      'for message in messages:\n    label = zero_shot_classifier(text=message, labels=["spam", '
      '"not spam"])\n    print(f"{label}: {message}")', ("zero_shot_classifier",)),
    E("Shorten the `story` and give me the short version in Polish.",
      '`story` (str, 1210 characters: "Once upon a time, in a village by the...")', ("str",),
      "tools: `summarizer` to shorten the story, then `translator` to put the summary into "
      "Polish.",
      'summary = summarizer(text=story)\npolish = translator(text=summary, src_lang="English", '
      'tgt_lang="Polish")\nprint(polish)', ("summarizer", "translator")),
    # chains that start with a download or a transcript, or end with a translation
    E("Put the text of the page at `homepage` into Italian.",
      "`homepage` (str, a web address: get its text with `text_downloader(url=homepage)` "
      "first)", ("str", "url"),
      "tools: `text_downloader` to get the text of the page, then `translator` to put that "
      "text into Italian.",
      'page = text_downloader(url=homepage)\nitalian = translator(text=page, src_lang="English",'
      ' tgt_lang="Italian")\nprint(italian)', ("text_downloader", "translator")),
    E("Shorten the news at `news_link` and give the short version in Spanish.",
      "`news_link` (str, a web address: get its text with `text_downloader(url=news_link)` "
      "first)", ("str", "url"),
      "tools: `text_downloader` to get the text of the page, `summarizer` to shorten it, then "
      "`translator` to put the summary into Spanish.",
      'page = text_downloader(url=news_link)\nsummary = summarizer(text=page)\nspanish = '
      'translator(text=summary, src_lang="English", tgt_lang="Spanish")\nprint(spanish)',
      ("text_downloader", "summarizer", "translator")),
    E("Does the blog at `blog_url` talk about food, sport or money?",
      "`blog_url` (str, a web address: get its text with `text_downloader(url=blog_url)` "
      "first)", ("str", "url"),
      "tools: `text_downloader` to get the text of the blog, then `zero_shot_classifier` to "
      "pick its topic among the three labels of the task.",
      'page = text_downloader(url=blog_url)\ntopic = zero_shot_classifier(text=page, labels=['
      '"food", "sport", "money"])\nprint(f"The blog is about {topic}.")',
      ("text_downloader", "zero_shot_classifier")),
    E("Turn the `voice_message` into text and give it to me in Portuguese.",
      "`voice_message` (audio, a recording: get its text with "
      "`transcriber(audio=voice_message)` first)", ("audio",),
      "tools: `transcriber` to get the text of the recording, then `translator` to put it "
      "into Portuguese.",
      'said = transcriber(audio=voice_message)\nportuguese = translator(text=said, '
      'src_lang="English", tgt_lang="Portuguese")\nprint(portuguese)',
      ("transcriber", "translator")),
    E("Does the caller in the `call` sound happy or unhappy?",
      "`call` (audio, a recording: get its text with `transcriber(audio=call)` first)",
      ("audio",),
      "tools: `transcriber` to get the words of the call, then `text_classifier` for their "
      "sentiment.",
      'said = transcriber(audio=call)\nmood = text_classifier(text=said)\n'
      'print(f"The caller sounds {mood}.")', ("transcriber", "text_classifier")),
    E("From the `faq`, find out when the shop closes, and tell me in Swedish.",
      '`faq` (str, 480 characters: "Our shop is in the old town, next to the...")',
      ("str",),
      "tools: `text_qa` to find the closing time in the faq, then `translator` to put that "
      "answer into Swedish.",
      'answer = text_qa(text=faq, question="When does the shop close?")\nswedish = translator('
      'text=answer, src_lang="English", tgt_lang="Swedish")\nprint(swedish)',
      ("text_qa", "translator")),
    E("Give me each of the `phrases` in Greek.",
      '`phrases` (list of 3 str, the first: "Where is the bus stop?")', ("list",),
      "tool: `translator` on each phrase, to put it into Greek.",
      'for phrase in phrases:\n    greek = translator(text=phrase, src_lang="English", '
      'tgt_lang="Greek")\n    print(greek)', ("translator",)),
    E("How many of the `names` start with the letter A?",
      '`names` (list of 6 str, the first: "Alice")', ("list",),
      "tools: none, since counting is plain Python.",
      'count = 0\nfor name in names:\n    if name.startswith("A"):\n        count += 1\n'
      'print(f"{count} names start with A.")', (),
      "count number how many length words letters characters sort reverse join first last "
      "longest shortest plain python"),
    E("Send the `invoice` to the accountant by e-mail.",
      '`invoice` (str, 420 characters: "Invoice 2041, due on the first of...")', ("str",),
      "tools: none, since none of the tools can send an e-mail.",
      'print("I cannot do this: none of my tools can send an e-mail.")', (),
      "send e-mail message draw picture image play music buy pay call phone cannot no tool"),
)

_STOP = frozenset(
    "a an the of to in on at by for from with and or but is are be it its this that these "
    "those me my i you your please then also can could would what which who whom whose how "
    "tell say give get find do does did".split())


_CHOICES = re.compile(r"\w,\s+(?:an?\s+)?[\w -]+\s+or\s+\w")


def _words(text) -> list:
    """Word stems of ``text``, leaving out the names in backticks (the variables): a task about
    the `message` must not pick an example because it loops over `messages`."""
    text = re.sub(r"`[^`]*`", " ", text)
    return [w[:6] for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP]


TOOL_WORDS = {
    "text_classifier": "sentiment positive negative mood happy unhappy tone opinion",
    "zero_shot_classifier": "classify category categories topic labels label kind type "
                            "options fits best",
    "text_qa": "question answer ask according",
    "summarizer": "summarize summary shorten short brief gist main points",
    "translator": "translate translation language into english french german spanish",
    "text_downloader": "download page web site url link fetch",
    "transcriber": "transcribe transcript audio recording said speaker listen voice",
}
"""Words that call for each curated tool; an example matches them through the tools it uses
(its ``keywords`` add more)."""


def _features(task, kinds, extra="") -> dict:
    """Word stems (6 letters) of the task and of ``extra`` (the example's keywords and its
    tools' :data:`TOOL_WORDS`, counted once each: a task that says "summarize" finds the
    examples that use the summarizer), and the variables' kinds."""
    feats = {}
    for w in _words(task):
        feats[w] = feats.get(w, 0) + 1
    for w in set(_words(extra)):
        feats[w] = feats.get(w, 0) + 0.5
    for kind in kinds:
        feats[f"kind:{kind}"] = 2  # a variable's kind (audio, a list, a URL) weighs double
    if _CHOICES.search(task):
        feats["kind:choices"] = 2  # the task names its options: "a, b or c"
    if set(re.findall(r"[a-z]+", task.lower())) & _language_names():
        feats["kind:language"] = 2  # the task names a language: a translation
    return feats


_LANGUAGES = []


def _language_names() -> frozenset:
    """The one-word language names the translator accepts, lowercase ("french", "dutch")."""
    if not _LANGUAGES:
        from .languages import LANGUAGE_CODES

        _LANGUAGES.append(frozenset(n.lower() for n in LANGUAGE_CODES if n.isalpha()))
    return _LANGUAGES[0]


def variable_kinds(variables) -> tuple:
    """The kinds of the variables passed to ``run``, as :class:`WorkedExample` names them."""
    kinds = set()
    for value in (variables or {}).values():
        name = type(value).__name__
        if name in ("AgentAudio", "AgentImage"):
            kinds.add(name[5:].lower())
        elif type(value).__module__.split(".")[0] == "PIL":
            kinds.add("image")
        elif isinstance(value, str):
            kinds.add("str")
            if re.match(r"https?://", value.strip()):
                kinds.add("url")
        elif isinstance(value, (list, tuple)):
            kinds.add("list")
    return tuple(sorted(kinds))


def select_examples(task, variables=None, toolbox=None, k=3, bank=EXAMPLES) -> list:
    """The ``k`` examples of ``bank`` closest to ``task`` (cosine of TF-IDF weights over the
    task's words and the variables' kinds), among those whose tools are all in ``toolbox``
    (every example when ``toolbox`` is None); the closest comes last, next to the task."""
    usable = [ex for ex in bank if toolbox is None or all(t in toolbox for t in ex.tools)]
    if not usable or k <= 0:
        return []
    docs = [_features(ex.task, ex.kinds, " ".join(
        [ex.keywords] + [TOOL_WORDS.get(t, "") for t in ex.tools])) for ex in usable]
    df = {}
    for doc in docs:
        for f in doc:
            df[f] = df.get(f, 0) + 1
    idf = {f: math.log((1 + len(docs)) / (1 + n)) + 1 for f, n in df.items()}

    def vector(feats):
        vec = {f: c * idf.get(f, 0.0) for f, c in feats.items()}
        return vec, math.sqrt(sum(v * v for v in vec.values())) or 1.0

    query, qnorm = vector(_features(task, variable_kinds(variables)))
    scores = []
    for i, doc in enumerate(docs):
        vec, norm = vector(doc)
        scores.append((sum(w * vec.get(f, 0.0) for f, w in query.items()) / (qnorm * norm), -i))
    best = sorted(range(len(usable)), key=lambda i: scores[i], reverse=True)[:k]
    return [usable[i] for i in reversed(best)]


def render_examples(examples) -> str:
    """The ``<<examples>>`` text: the examples, separated by blank lines."""
    return "\n\n".join(ex.render() for ex in examples)
