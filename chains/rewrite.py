"""Follow-up question -> standalone question, from the conversation's history, by the LLM.

"那如果是去北京呢？" retrieves nothing on its own; "去北京出差住宿费每晚最多报销多少？" does.
Small models (the embedded 0.5B/1.5B) sometimes answer instead of rewriting, ramble, or drop the
follow-up's new detail, so every rewrite is checked and, when it fails a check (or comes back
unchanged), the original question is kept: retrieval then gets the previous question joined to
it, which still finds the topic the follow-up refers to, and the answer prompt gets the last
turns (ChatSession).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from langchain_core.language_models.llms import LLM

from .language import question_language

# Measured on the embedded models (Qwen2.5-Coder 1.5B / 0.5B): few-shot examples made both
# copy an example or the earlier question; one plain instruction AFTER the conversation works
# best for the 1.5B model (8 of 9 hand-made follow-ups; the earlier answer in the history helps).
_PROMPT = {
    "zh": ("到目前为止的对话：\n{history}\n\n用户现在追问：{question}\n\n"
           "请改写这个追问，使它不看对话也能看懂：保留追问中的每个新细节，并从前面的问题中补上它省略的主题。"
           "不要回答问题，只输出改写后的问题。"),
    "en": ("Conversation so far:\n{history}\n\nThe user now asks a follow-up: {question}\n\n"
           "Rewrite the follow-up so it can be understood alone: keep every new detail of the follow-up "
           "and add the subject it leaves out from the earlier question. Do not answer it. "
           "Output only the rewritten question."),
}
_TURN = {"zh": ("用户：{q}", "助手：{a}"), "en": ("User: {q}", "Assistant: {a}")}
_LABELS = re.compile(r"^\s*(改写后的问题|改写后的追问|改写|独立问题|问题|追问|用户|Rewritten question|Rewritten|"
                     r"Standalone question|Follow-up|Question|User)\s*[:：]\s*", re.IGNORECASE)
_QUOTES = "\"'“”‘’「」`"
# An answer, not a question: a small model that "rewrites" 住宿费多少 into 每晚六百元。
_QUESTION_END = re.compile(r"[?？]\s*$")
_QUESTION_WORDS = {
    "zh": re.compile(r"多少|几|什么|哪|谁|怎么|怎样|如何|为什么|是否|能否|可以吗|吗|呢|多久|多长|多大|多高"),
    "en": re.compile(r"^(who|what|when|where|which|why|how|is|are|am|was|were|do|does|did|can|could|"
                     r"should|would|will|must|may|has|have|had)\b", re.IGNORECASE),
}
# The words that only mark a follow-up ("那…呢？", "what about"), not part of what it adds.
_FOLLOW_UP_WORDS = re.compile(r"^\s*(那么|那|如果是|如果|要是|假如|还有|是)+|呢?\s*[？?。!！]*\s*$"
                              r"|^\s*(and|what about|how about)\b", re.IGNORECASE)
MAX_ANSWER_CHARS = 100  # of each earlier answer shown to the rewriter: the topic, not the details


@dataclass
class Rewrite:
    question: str         # what the answering model is asked (standalone, or the original)
    retrieval_query: str  # what retrieval searches with
    rewritten: bool       # the model's rewrite passed the checks
    seconds: float = 0.0
    raw: str = ""         # the model's output, for logs and benchmarks


def rewrite_prompt(question: str, history: list[tuple[str, str]], lang: str) -> str:
    q_line, a_line = _TURN[lang]
    lines = []
    for q, a in history:
        lines.append(q_line.format(q=q))
        if a:
            lines.append(a_line.format(q=q, a=a[:MAX_ANSWER_CHARS].replace("\n", " ")))
    return _PROMPT[lang].format(history="\n".join(lines), question=question)


def clean_output(text: str) -> str:
    """First non-empty line, without a label ("改写：") or surrounding quotes."""
    line = next((l for l in text.strip().splitlines() if l.strip()), "")
    line = _LABELS.sub("", line).strip().strip(_QUOTES).strip()
    return line


def _units(text: str, lang: str) -> set[str]:
    """Character bigrams for Chinese (no spaces); for English, words cut to five letters (a
    crude stem: "changed" and "change" are one unit)."""
    if lang == "zh":
        text = re.sub(r"[\s\W]+", "", text.lower())
        return {text[i:i + 2] for i in range(len(text) - 1)}
    return {w[:5] for w in re.findall(r"[a-z0-9]+", text.lower())}


def acceptable(candidate: str, question: str, history: list[tuple[str, str]], lang: str) -> bool:
    """Is ``candidate`` a rewrite of ``question`` (not an answer, not a ramble, not off-topic)?"""
    if not candidate:
        return False
    earlier = " ".join(q for q, _ in history)
    if len(candidate) > 2 * (len(question) + len(earlier)) + 20:
        return False  # too long: an explanation or an answer
    if not (_QUESTION_END.search(candidate) or _QUESTION_WORDS[lang].search(candidate)):
        return False  # reads as a statement: the model answered
    # Made of the conversation's questions' words: an answer brings in its own words
    # (numbers, rules), a drifting rewrite its own topic.
    units = _units(candidate, lang)
    source = _units(question + " " + earlier, lang)
    if units and len(units & source) / len(units) < 0.5:
        return False
    # It must keep what the follow-up adds: repeating the earlier question loses "北京", and
    # "那上一季度呢？" once came back as "…第二季度…" (measured 2026-12-02).
    mine = _units(_FOLLOW_UP_WORDS.sub("", question), lang) - _units(earlier, lang)
    if mine and candidate.strip() in {q.strip() for q, _ in history}:
        return False
    if mine and len(mine & units) / len(mine) < 0.5:
        return False
    return True


class QuestionRewriter:
    def __init__(self, llm: LLM, max_new_tokens: int = 64):
        self.llm, self.max_new_tokens = llm, max_new_tokens

    def rewrite(self, question: str, history: list[tuple[str, str]]) -> Rewrite:
        if not history:  # nothing to resolve: no model call at all
            return Rewrite(question, question, rewritten=False)
        lang = question_language(question)
        start = time.perf_counter()
        # Greedy and short: a rewrite is one sentence, and must not vary between runs.
        raw = self.llm.invoke(rewrite_prompt(question, history, lang), temperature=0.0,
                              max_new_tokens=self.max_new_tokens)
        seconds = time.perf_counter() - start
        candidate = clean_output(raw)
        # Unchanged counts as not rewritten: the small model often leaves "晚婚呢？" as it is.
        if candidate != question.strip() and acceptable(candidate, question, history, lang):
            return Rewrite(candidate, candidate, rewritten=True, seconds=seconds, raw=raw)
        return Rewrite(question, f"{history[-1][0]} {question}", rewritten=False, seconds=seconds, raw=raw)
