"""The tasks of ``scripts/eval_agent.py``: a development set and a held-out test set.

The **test** set was written before any change to the prompt or the tool descriptions it is
used to measure, and is never used while changing them: tune on ``dev``, report ``test``.

A task is ``Task(text, variables, expect, ...)``:

* ``variables``: the values passed to ``agent.run`` (strings, lists, audio);
* ``expect``: the tool calls a correct program makes, in order of first use, each
  ``(tool, {argument: matcher})``; a matcher is a value (equal), :func:`var` (the value of a
  variable passed in), :func:`out` (the last output of another tool: the program must feed one
  tool into the next), :func:`has` (a str containing all the given words, case-insensitive),
  :func:`labels` (a list containing all the given labels) or :func:`each` (one call per item of
  a list variable, in order);
* ``answer``: for tasks that need no tool, words that must appear in what the program prints
  or returns;
* ``refuse``: the toolbox has no tool for the task: a correct program calls no tool and says
  that it cannot do it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARTICLE = ("The city council voted on Tuesday to build a new public library in the old market "
           "hall. The project will cost 12 million euros and should open in 2027. Mayor Anna "
           "Berger said it will bring life back to the center; critics worry about the budget.")
REVIEW = "This movie was wonderful: the actors were great and I loved the ending."
REVIEWS = ["A dull, boring film.", "Brilliant and moving, a masterpiece.", "Not worth the money."]
QUESTION = "How much will the project cost?"
LABELS = ["city politics", "sport", "cooking"]
HEADLINE = "Central bank raises interest rates again as inflation stays high"
REPORT = ("Sales grew by 8 percent in the third quarter, driven by strong demand in Asia. "
          "Costs rose less than expected, and the company raised its forecast for the year.")
EMAIL = "Hello, I was charged twice for my subscription this month. Can you refund me?"
OPTIONS = ["billing", "delivery", "technical support"]
TICKET = "I cannot log in since yesterday: the app says my password is wrong."
TWEET = "Worst customer service ever, I waited two hours for nothing."
SENTENCE = "The train leaves at nine in the morning."
MESSAGE = "Thank you for your help, see you next week."
POSTS = ["I love this new phone!", "The update broke everything.", "Great battery life.",
         "Customer support never answered."]
DOCUMENTS = ["The river flooded the village after three days of rain; nobody was hurt.",
             "The school will open a new science lab next spring, paid for by a local firm."]
CATEGORIES = ["praise", "complaint", "question"]
COMMENT = "Why does the app need my location to show the weather?"
TRANSCRIPT = "The meeting moves to Friday at ten. Everyone was pleased with the new plan."
# added 2026-12-07 (issue 21, second pass): inputs of the dev tasks 18-29
PASSAGE = ("The museum is open from Tuesday to Sunday. Tickets cost 9 euros; children under "
           "twelve enter for free. Guided tours start every hour from ten in the morning.")
QUERY = "How much is a ticket?"
FEEDBACK = ["Delivery was fast and the box was intact.", "The charger stopped working.",
            "Nice colours, would buy again."]
TOPICS = ["health", "travel", "finance"]
PARAGRAPH = "Doctors recommend thirty minutes of walking a day to lower blood pressure."
NOTE = "Could you tell me when my order will arrive?"
LINES = ["Good morning.", "Where is the station?"]
TITLE = "Spring sale"
OUTPUTS = {  # what the stand-in tools return
    "text_classifier": lambda text: "POSITIVE",
    "summarizer": lambda text: "A new library will be built.",
    "text_qa": lambda text, question: "12 million euros",
    "text_downloader": lambda url: ARTICLE,
    "zero_shot_classifier": lambda text, labels: list(labels)[0] if labels else "",
    "translator": lambda text, src_lang, tgt_lang: "Une nouvelle bibliothèque sera construite.",
    "transcriber": lambda audio: TRANSCRIPT,
}


# ------------------------------------------------------------------------ matchers
@dataclass(frozen=True)
class var:
    name: str


@dataclass(frozen=True)
class out:
    tool: str


@dataclass(frozen=True)
class has:
    words: tuple

    def __init__(self, *words):
        object.__setattr__(self, "words", words)


@dataclass(frozen=True)
class labels:
    names: tuple

    def __init__(self, *names):
        object.__setattr__(self, "names", names)


@dataclass(frozen=True)
class each:
    name: str  # one call per item of this list variable, in order


@dataclass
class Task:
    text: str
    variables: dict
    expect: list = field(default_factory=list)
    answer: tuple = ()
    refuse: bool = False


def _audio():
    import numpy as np

    from tfhf.agents import AgentAudio

    t = np.arange(16000, dtype=np.float32) / 16000.0
    return AgentAudio(0.1 * np.sin(2 * np.pi * 220.0 * t), samplerate=16000)


def dev_tasks():
    """The development set: the ten original tasks, the five confusions reported in issue 21
    and two without a tool."""
    return [
        Task("Is the following `review` positive or negative?", {"review": REVIEW},
             [("text_classifier", {"text": var("review")})]),
        Task("Summarize the `text`.", {"text": ARTICLE},
             [("summarizer", {"text": var("text")})]),
        Task("Answer the `question` about the `text`.", {"text": ARTICLE, "question": QUESTION},
             [("text_qa", {"text": var("text"), "question": var("question")})]),
        Task("Download the web page at `url` and summarize it.", {"url": "URL"},
             [("text_downloader", {"url": var("url")}),
              ("summarizer", {"text": out("text_downloader")})]),
        Task("Is the `text` about sport, politics or science?", {"text": ARTICLE},
             [("zero_shot_classifier", {"text": var("text"),
                                        "labels": labels("sport", "politics", "science")})]),
        Task("Download the web page at `url` and tell me if it is positive or negative.",
             {"url": "URL"},
             [("text_downloader", {"url": var("url")}),
              ("text_classifier", {"text": out("text_downloader")})]),
        Task("For each review in `reviews`, tell me whether it is positive or negative.",
             {"reviews": REVIEWS}, [("text_classifier", {"text": each("reviews")})]),
        Task("Answer the `question` about the web page at `url`.",
             {"url": "URL", "question": QUESTION},
             [("text_downloader", {"url": var("url")}),
              ("text_qa", {"text": out("text_downloader"), "question": var("question")})]),
        Task("Summarize the `text`, then tell me whether the summary is positive or negative.",
             {"text": ARTICLE},
             [("summarizer", {"text": var("text")}),
              ("text_classifier", {"text": out("summarizer")})]),
        Task("Which of the `labels` fits the `text` best?", {"text": ARTICLE, "labels": LABELS},
             [("zero_shot_classifier", {"text": var("text"), "labels": var("labels")})]),
        Task("What is the `headline` about: economy, weather or music?", {"headline": HEADLINE},
             [("zero_shot_classifier", {"text": var("headline"),
                                        "labels": labels("economy", "weather", "music")})]),
        Task("Make a short summary of the `report` and translate it into French.",
             {"report": REPORT},
             [("summarizer", {"text": var("report")}),
              ("translator", {"text": out("summarizer"), "tgt_lang": has("french")})]),
        Task("Transcribe the `recording`, then summarize what was said.",
             {"recording": "AUDIO"},
             [("transcriber", {"audio": var("recording")}),
              ("summarizer", {"text": out("transcriber")})]),
        Task("Fetch the page at `url`, summarize it, and say whether the summary sounds "
             "positive.", {"url": "URL"},
             [("text_downloader", {"url": var("url")}),
              ("summarizer", {"text": out("text_downloader")}),
              ("text_classifier", {"text": out("summarizer")})]),
        Task("Using the `options`, classify the `email`.", {"email": EMAIL, "options": OPTIONS},
             [("zero_shot_classifier", {"text": var("email"), "labels": var("options")})]),
        Task("How many words are in the `text`?", {"text": ARTICLE},
             answer=(str(len(ARTICLE.split())),)),
        Task("Draw a picture of a cat.", {}, refuse=True),
    ] + added_dev_tasks()


def added_dev_tasks():
    """Dev tasks 18-29, added 2026-12-07 (issue 21, second pass) before changing anything, to
    measure the changes on tasks the prompt was not tuned on: chains ending in a translation,
    download-then-X, transcribe-then-X, loops, labels in the text or as a variable, a task
    that needs no tool and one no tool can do, in wording and variable names unlike the
    worked examples and the other tasks."""
    return [
        Task("Grab the document at `page_url` and translate its text into Spanish.",
             {"page_url": "URL"},
             [("text_downloader", {"url": var("page_url")}),
              ("translator", {"text": out("text_downloader"), "tgt_lang": has("spanish")})]),
        Task("Listen to the `clip`, write down the words and render them in German.",
             {"clip": "AUDIO"},
             [("transcriber", {"audio": var("clip")}),
              ("translator", {"text": out("transcriber"), "tgt_lang": has("german")})]),
        Task("Use the `passage` to answer the `query`, then give me the answer in Dutch.",
             {"passage": PASSAGE, "query": QUERY},
             [("text_qa", {"text": var("passage"), "question": var("query")}),
              ("translator", {"text": out("text_qa"), "tgt_lang": has("dutch")})]),
        Task("Read the article at `source` and tell me its topic: health, travel or finance.",
             {"source": "URL"},
             [("text_downloader", {"url": var("source")}),
              ("zero_shot_classifier", {"text": out("text_downloader"),
                                        "labels": labels("health", "travel", "finance")})]),
        Task("Go through the `feedback` and tell me the sentiment of every entry.",
             {"feedback": FEEDBACK}, [("text_classifier", {"text": each("feedback")})]),
        Task("Tell me which of the `topics` best describes the `paragraph`.",
             {"paragraph": PARAGRAPH, "topics": TOPICS},
             [("zero_shot_classifier", {"text": var("paragraph"), "labels": var("topics")})]),
        Task("Is the `note` a request, a compliment or a complaint?", {"note": NOTE},
             [("zero_shot_classifier", {"text": var("note"), "labels": labels(
                 "request", "compliment", "complaint")})]),
        Task("Write down what is said in the `memo`, then answer the `query` about it.",
             {"memo": "AUDIO", "query": QUERY},
             [("transcriber", {"audio": var("memo")}),
              ("text_qa", {"text": out("transcriber"), "question": var("query")})]),
        Task("Render each of the `lines` in French.", {"lines": LINES},
             [("translator", {"text": each("lines"), "tgt_lang": has("french")})]),
        Task("Fetch `site` and give me a short summary of it.", {"site": "URL"},
             [("text_downloader", {"url": var("site")}),
              ("summarizer", {"text": out("text_downloader")})]),
        Task("How many characters long is the `title`?", {"title": TITLE},
             answer=(str(len(TITLE)),)),
        Task("Send an email to my landlord saying the heating is broken.", {}, refuse=True),
    ]


def test_tasks():
    """The held-out test set (written before the prompt changes it measures; never tuned on)."""
    return [
        Task("Give me a brief summary of the `article`.", {"article": ARTICLE},
             [("summarizer", {"text": var("article")})]),
        Task("Who is the mayor, according to the `article`?", {"article": ARTICLE},
             [("text_qa", {"text": var("article"), "question": has("mayor")})]),
        Task("Classify the `ticket` as billing, technical problem or account access.",
             {"ticket": TICKET},
             [("zero_shot_classifier", {"text": var("ticket"), "labels": labels(
                 "billing", "technical problem", "account access")})]),
        Task("Is the sentiment of the `tweet` positive or negative?", {"tweet": TWEET},
             [("text_classifier", {"text": var("tweet")})]),
        Task("Translate the `sentence` from English to German.", {"sentence": SENTENCE},
             [("translator", {"text": var("sentence"), "src_lang": has("english"),
                              "tgt_lang": has("german")})]),
        Task("Put the `message` into Spanish.", {"message": MESSAGE},
             [("translator", {"text": var("message"), "tgt_lang": has("spanish")})]),
        Task("What does the speaker say in the `audio`?", {"audio": "AUDIO"},
             [("transcriber", {"audio": var("audio")})]),
        Task("Transcribe the `voice_note` and translate the transcript into Italian.",
             {"voice_note": "AUDIO"},
             [("transcriber", {"audio": var("voice_note")}),
              ("translator", {"text": out("transcriber"), "tgt_lang": has("italian")})]),
        Task("Get the text of the page at `address` and answer: when will the library open?",
             {"address": "URL"},
             [("text_downloader", {"url": var("address")}),
              ("text_qa", {"text": out("text_downloader"), "question": has("open")})]),
        Task("For every item in `posts`, say if it is positive or negative.", {"posts": POSTS},
             [("text_classifier", {"text": each("posts")})]),
        Task("Summarize each of the `documents`.", {"documents": DOCUMENTS},
             [("summarizer", {"text": each("documents")})]),
        Task("Sort the `comment` into one of the `categories`.",
             {"comment": COMMENT, "categories": CATEGORIES},
             [("zero_shot_classifier", {"text": var("comment"), "labels": var("categories")})]),
        Task("Summarize the web page at `link` and translate the summary into French.",
             {"link": "URL"},
             [("text_downloader", {"url": var("link")}),
              ("summarizer", {"text": out("text_downloader")}),
              ("translator", {"text": out("summarizer"), "tgt_lang": has("french")})]),
        Task("Ask the `question` about the page at `link`, then translate the answer into "
             "German.", {"link": "URL", "question": QUESTION},
             [("text_downloader", {"url": var("link")}),
              ("text_qa", {"text": out("text_downloader"), "question": var("question")}),
              ("translator", {"text": out("text_qa"), "tgt_lang": has("german")})]),
        Task("Transcribe the `recording` and tell me whether the speaker sounds positive or "
             "negative.", {"recording": "AUDIO"},
             [("transcriber", {"audio": var("recording")}),
              ("text_classifier", {"text": out("transcriber")})]),
        Task("Count how many items are in `posts`.", {"posts": POSTS}, answer=(str(len(POSTS)),)),
        Task("Convert the `sentence` to upper case.", {"sentence": SENTENCE},
             answer=(SENTENCE.upper(),)),
        Task("Book a table for two at an Italian restaurant for tonight.", {}, refuse=True),
    ]


SPLITS = {"dev": dev_tasks, "test": test_tasks}
