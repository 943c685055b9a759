"""When the first search is weak, the question is also searched in the documents' own wording.

People ask in everyday words ("办了健身房的年卡，结果健身房不开了，钱能要回来吗？"); documents
answer in formal ones ("经营者以预收款方式提供商品或者服务的…"). When the dense and keyword
rankings share none of their best passages (``Retrieval.weak``), neither the meaning nor the
words pointed clearly at a passage. Then the model writes, in one short call, the sentence or two
a formal document would contain to answer, and that text is searched too; both searches are
fused by RRF in the retriever. What the model writes only steers the search: it is never shown
and never given to the answering prompt, so an invented detail in it cannot reach the answer.

Measured on the law dev set (bench/results/eval_rag_guess.json, 72 questions): 28 were weak;
with their guess fused in, recall@5 0.683 -> 0.701 and hit@5 0.722 -> 0.750, at a median of
1.4 s of model time on the weak ones only. End to end (bench.eval_answers, 48 items):
key fact 0.30 -> 0.35 and cited passage relevant 0.72 -> 0.78, and three wrong answers became
refusals; the first-token median rose from 3.3 to 4.2 s (docs/BENCHMARKS.md).

Written by hand: this is HyDE (hypothetical document embeddings) with a gate; LangChain's
HypotheticalDocumentEmbedder embeds the guess for every query and alone, which measured worse
here (the guess alone: recall@5 0.604) and would cost the call on every question.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from langchain_core.language_models.llms import LLM

from .rewrite import clean_output

_PROMPT = {
    "zh": ("用户的问题是口语。请写出正式文件（法规、制度、合同、报告）中能回答这个问题的一两句原文，"
           "用文件的正式书面措辞，不要解释，不要写序号。\n\n问题：{question}"),
    "en": ("The user's question is in everyday words. Write the one or two sentences a formal document "
           "(a law, a policy, a contract, a report) would contain to answer it, in the document's formal "
           "wording. No explanation, no numbering.\n\nQuestion: {question}"),
}

# Article and section numbers the model makes up ("第三十七条", "Article 12", "§ 4"): a wrong
# number is a strong keyword for the wrong passage, so they are not searched.
_NUMBERING = re.compile(
    r"第[零一二三四五六七八九十百千\d]+[条款项章节编]|\b(?:Article|Section|Sec\.|Art\.|Clause|Chapter)\s*\d+[\w.]*|§+\s*\d+[\w.]*",
    re.IGNORECASE)
# A guess that says the model does not know is no wording to search with.
_NO_GUESS = re.compile(r"无法|不能确定|没有(相关|足够|找到)|抱歉|I (?:cannot|can't|don't know)|I'm sorry|not sure",
                       re.IGNORECASE)
MAX_CHARS = 240  # a sentence or two; longer is a ramble that dilutes the search


@dataclass
class Guess:
    text: str | None  # None: not usable
    seconds: float = 0.0
    raw: str = ""


class PassageGuesser:
    """Its prompt shares no start with the answer prompt, so the answer's prefill after a guess
    starts from scratch (about 0.4 s more). Tried: starting the guess prompt with the answer
    prompt's instructions, so their cached state served both; the model then wrote answers, not
    document text, and recall@5 fell below the plain search (0.667 against 0.683)."""

    def __init__(self, llm: LLM, max_new_tokens: int = 64):
        self.llm, self.max_new_tokens = llm, max_new_tokens

    def guess(self, question: str, lang: str) -> Guess:
        """What a passage answering ``question`` might say, to search with (or None)."""
        start = time.perf_counter()
        prompt = _PROMPT["zh" if lang == "zh" else "en"].format(question=question)
        raw = self.llm.invoke(prompt, temperature=0.0, max_new_tokens=self.max_new_tokens)
        return Guess(searchable(raw, question), time.perf_counter() - start, raw)


def searchable(raw: str, question: str) -> str | None:
    """The guess as search text: numbering removed, None when it is empty, the question again,
    or a refusal. Only its start is kept: enough words to search with."""
    text = " ".join(clean_output(line) for line in raw.strip().splitlines() if line.strip())
    text = _NUMBERING.sub("", re.sub(r"\[\d{1,2}\]", "", text))  # and the [n] marks of an answer
    text = re.sub(r"\s+", " ", text).strip(" ，,。.")
    if len(text) < 4 or text == question.strip() or _NO_GUESS.search(text):
        return None
    return text[:MAX_CHARS]
