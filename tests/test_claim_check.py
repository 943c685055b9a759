"""Every sentence is checked before it is shown (chains/claim_check.py)."""
from __future__ import annotations

from chains.claim_check import PARTIAL, CheckedStream, ClaimChecker, sentence_end
from chains.grounding import stated_numbers
from vectorstore import Hit


def hit(n: int, text: str, page: int | None = 1) -> Hit:
    return Hit(f"sha:{n}", f"doc{n}.pdf", page, text, 0.5, "sha", n)


HITS = [hit(1, "出差住宿费标准：一线城市每人每晚不超过六百元。"),
        hit(2, "Passwords must be at least 12 characters. Laptops must lock after 5 minutes."),
        hit(3, "伙食补助每人每天一百元。", page=None),
        hit(4, "营业收入（元）: 本报告期 4,755,785.11; 上年同期 5,699,227.63; 增减 -16.55%"),
        hit(5, "核电厂定期安全评价一般每十年开展一次，每次评价持续约两年。"),
        hit(6, "Comments must be received on or before July 15, 2019.")]


def tokens(text: str, size: int = 2) -> list[str]:
    """The text as a model streams it: a few characters at a time."""
    return [text[i:i + size] for i in range(0, len(text), size)]


def run(question: str, model_text: str, hits=HITS, lang: str = "zh") -> tuple[list[str], CheckedStream]:
    stream = CheckedStream(question, hits, lang)
    shown = [piece for piece in stream.run(tokens(model_text)) if piece]
    shown += list(stream.finish())
    return shown, stream


def test_sentences_end_at_end_marks_with_their_citations_and_quotes():
    assert sentence_end("每晚不超过六百元[1]。伙食", final=False) == len("每晚不超过六百元[1]。")
    assert sentence_end("每晚不超过六百元。[1] 伙食", final=False) == len("每晚不超过六百元。[1]")
    assert sentence_end("每晚不超过六百元。", final=False) is None  # a [n] may still follow
    assert sentence_end("Assets were 298,608,889.04 yuan", final=False) is None  # a decimal point
    assert sentence_end("Ask Dr. Smith about it. Then", final=False) == len("Ask Dr. Smith about it.")
    assert sentence_end("规定如下：\n1. 每晚六百元。\n", final=False) == len("规定如下：\n1. 每晚六百元。")
    assert sentence_end("没有结束", final=True) == len("没有结束")


def test_more_kinds_of_claims_are_checked_than_amounts():
    assert "每年" in stated_numbers("定期安全评价一般每年开展一次[1]。")
    assert any("july" in n for n in stated_numbers("Comments are due by July 15, 2019 [4]."))
    assert "4755785.11" in stated_numbers("营业收入为4,755,785.11元")[0] or \
        any("4755785.11" in n for n in stated_numbers("营业收入为4,755,785.11元"))
    assert stated_numbers("2018年3月31日的总资产", "") and not stated_numbers("2018年3月31日", "2018年3月31日是哪天？")


def test_a_sentence_is_supported_by_the_passage_holding_its_words_or_figures():
    checker = ClaimChecker("住宿费多少？", HITS)
    verdict = checker.check("一线城市每晚不超过六百元[3]。")  # [3] is the wrong passage
    assert verdict.ok and verdict.passage == 0
    assert checker.check("营业收入为4755785.11元，同比下降16.55%[4]。").passage == 3
    assert not checker.check("定期安全评价一般每年开展一次[5]。").ok  # 每年 is not 每十年
    assert checker.check("定期安全评价一般每十年开展一次[5]。").passage == 4
    assert not checker.check("完全无关的回答内容，与任何资料都不相干[1]。").ok
    assert not checker.check("是").ok and not checker.check("1").ok
    assert not ClaimChecker("When?", HITS[:2]).check("Comments are due by July 15, 2019 [2].").ok
    # a figure the question names must be in a passage too, when the answer states it
    assert not ClaimChecker("What is the 7 year fixed rate?", HITS).check("The 7 year fixed rate is 12 characters [2].").ok
    rates = [hit(7, "Fixed rate home loans: 1 year 4.29%, 5 year 5.49% p.a.")]
    assert not ClaimChecker("What is the 7 year fixed rate?", rates).check("The 7-year fixed rate is 5.49% [1].").ok
    assert ClaimChecker("What is the 5 year fixed rate?", rates).check("The 5-year fixed rate is 5.49% [1].").ok


def test_a_translated_answer_is_supported_by_its_figures():
    checker = ClaimChecker("What was the operating revenue?", HITS)
    assert checker.check("Operating revenue was 4,755,785.11 yuan, down 16.55% [1].").passage == 3
    assert not checker.check("Operating revenue was 5,000,000 yuan [4].").ok
    # names translated from a Chinese passage cannot be checked; an English passage that shares
    # only words like "the" and "of" with the sentence does not support it
    assert not checker.check("The standard was drafted by the Institute of the Nuclear Power Company [6].").ok


def test_a_grounded_answer_streams_with_its_citations_renumbered_to_the_source_list():
    shown, stream = run("出差补助多少？", "伙食补助每天一百元[3]。一线城市住宿每晚不超过六百元[1]。")
    assert "".join(shown) == stream.result.text == "伙食补助每天一百元[1]。一线城市住宿每晚不超过六百元[2]。"
    assert stream.result.sources == [HITS[2], HITS[0]] and not stream.result.partial


def test_an_invented_first_sentence_is_never_shown():
    shown, stream = run("北京最低工资多少？", "北京的最低工资标准是每个月2100元[1]。这是规定。")
    assert shown == [] and stream.result.text == "" and stream.result.missing == ["二千一百元"]


def test_a_later_invented_sentence_ends_the_answer_with_a_plain_note():
    shown, stream = run("住宿费和评价周期？", "一线城市每晚不超过六百元[1]。安全评价每年开展一次[5]。之后的话。")
    assert shown[0] == "一线城市每晚不超过六百元[1]。"
    assert "每年" not in "".join(shown) and "之后" not in "".join(shown)
    assert shown[-1].strip() == PARTIAL["zh"] and stream.result.partial


def test_the_model_stops_being_read_at_the_first_failed_sentence():
    read = []

    def model():
        for piece in tokens("北京的最低工资是2100元[1]。" + "更多的内容。" * 50):
            read.append(piece)
            yield piece

    stream = CheckedStream("最低工资？", HITS, "zh")
    assert "".join(stream.run(model())) == ""
    assert len(read) < 15  # the rest was never generated


def test_a_refusal_in_other_words_is_a_refusal():
    for text in ("资料中没有提到研发投入。", "The passages do not mention the 7 year rate."):
        shown, stream = run("研发投入？", text, lang="zh" if "资料" in text else "en")
        assert shown == [] and stream.result.refused


def test_english_answers_keep_their_spacing():
    shown, stream = run("How long?", "Passwords need at least 12 characters [2]. Laptops lock after 5 minutes [2].",
                        lang="en")
    assert stream.result.text == "Passwords need at least 12 characters [1]. Laptops lock after 5 minutes [1]."


def test_a_long_passage_is_focused_on_the_sentences_the_question_is_about():
    from chains.prompts import focus, grounded_prompt
    article = ("第三十九条 劳动者有下列情形之一的，用人单位可以解除劳动合同：\n（一）在试用期间被证明不符合录用条件的；\n"
               "（二）严重违反用人单位的规章制度的；\n（三）严重失职，营私舞弊，给用人单位造成重大损害的；\n"
               "（四）劳动者同时与其他用人单位建立劳动关系，对完成本单位的工作任务造成严重影响的；")
    short = focus(article, "员工严重失职，公司能直接辞退吗？", 80)
    assert len(short) <= 85 and "严重失职，营私舞弊" in short and "试用期间" not in short and "…" in short
    assert focus(article, "任何问题", None) == article and focus("短段落。", "问题", 80) == "短段落。"
    prompt = grounded_prompt("员工严重失职，公司能直接辞退吗？", [hit(9, article)], "zh", passage_chars=80)
    assert "严重失职" in prompt and "试用期间" not in prompt


def test_a_figure_from_another_row_of_a_table_does_not_support_the_sentence():
    table = [hit(8, "Country Population (millions) Area (km2) Capital\nDenmark 5.8 42,951 Copenhagen\n"
                    "Finland 5.5 338,424 Helsinki\nFrance 67.4 643,801 Paris")]
    checker = ClaimChecker("What are Finland's population and area?", table)
    assert checker.check("Finland's population is 5.5 million and its area is 338,424 km² [1].").ok
    assert not checker.check("Finland's population is 5.5 million and its area is 42,951 km² [1].").ok
    costs = [hit(9, "AOA sensor system test: 40 work-hours × $85 per hour = $3,400.\n"
                    "Total cost per airplane: 90 work-hours × $85 per hour = $7,650.")]
    checker = ClaimChecker("How much does the AOA sensor system test cost?", costs)
    assert checker.check("The AOA sensor system test costs $3,400 [1].").ok
    assert not checker.check("The AOA sensor system test costs $7,650 [1].").ok
    shareholders = [hit(10, "报告期末普通股股东总数; 79,053\n前10名股东持股情况")]
    checker = ClaimChecker("普通股股东一共有多少户？", shareholders)
    assert checker.check("报告期末普通股股东总数为79,053户[1]。").ok
    assert not checker.check("普通股股东一共有10户[1]。").ok


def test_a_table_passage_is_focused_on_its_header_and_the_row_asked_about():
    from chains.prompts import focus
    rows = "\n".join(f"Team: T{i}; Location: L{i}; Stanley Cups: {i}" for i in range(30))
    table = f"Team; Location; Stanley Cups\n{rows}\nTeam: Maple Leafs; Location: TOR; Stanley Cups: 13"
    short = focus(table, "How many Stanley Cups have the Maple Leafs won?", 300)
    assert short.startswith("Team; Location; Stanley Cups") and "Maple Leafs; Location: TOR; Stanley Cups: 13" in short
    assert "T0;" not in short


def test_a_row_naming_only_the_thing_asked_about_is_kept_though_the_header_names_more():
    """The real EU table (en_two_column.pdf): the header names the question's columns, the row only
    the country. Ranked with the rows, the header set the bar above every row and the model got
    the header alone."""
    from chains.prompts import focus
    countries = ["Austria 8.9 83,879 Vienna German", "Belgium 11.5 30,528 Brussels Dutch, French, German",
                 "Denmark 5.8 42,951 Copenhagen Danish", "Finland 5.5 338,424 Helsinki Finnish, Swedish",
                 "France 67.4 551,695 Paris French", "Germany 83.2 357,022 Berlin German"] * 2
    table = "Table 1: EU Countries Information Country Population (millions) Area (km2) Capital\n" + "\n".join(countries)
    short = focus(table, "What are Finland's population and area in the EU countries table?", 300)
    assert short.startswith("Table 1: EU Countries") and "Finland 5.5 338,424 Helsinki" in short
    assert "Austria" not in short


def test_a_row_longer_than_what_its_header_leaves_of_the_budget_is_still_given():
    from chains.prompts import focus
    row = "PetCare; Sales: 9373; Underlying Trading operating profit (a): 1959; Trading operating profit: 1939"
    table = "In millions of CHF January–June 2023\nWater; Sales: 1706\n" + row + "\nConfectionery; Sales: 3694"
    short = focus(table, "How much did PetCare sell?", 120)
    assert short.startswith("In millions of CHF") and row in short and "Water" not in short


def test_translated_answers_are_compared_by_their_numbers():
    crash = [hit(11, "Ethiopian Airlines Flight 302 crashed; all 157 people on board were killed.")]
    assert ClaimChecker("302航班空难造成了多少人遇难？", crash).check("埃塞俄比亚航空302航班空难造成了157人死亡[1]。").ok
    assert not ClaimChecker("多少人遇难？", crash).check("空难造成了189人死亡[1]。").ok
    tones = [hit(12, "粤语有九个声调，保留了入声。")]
    assert ClaimChecker("How many tones does Cantonese have?", tones).check("Cantonese has nine tones [1].").ok
    assert not ClaimChecker("How many tones?", tones).check("Cantonese has six tones [1].").ok
    fees = [hit(13, "Wealth Package: annual package fee $395.")]
    assert ClaimChecker("Is there a yearly fee?", fees).check("Yes, there is a yearly fee of $395 [1].").ok


def test_a_figure_read_from_a_row_that_names_less_of_the_sentence_than_its_rival_is_not_shown():
    """Cost rows of one table: each holds money; the sentence names the AOA test, whose row says
    $3,400, so the stall-warning row's $7,650 does not support it. Rows that name the sentence's
    subject equally (or a header that holds no figures) do not count against a figure."""
    costs = hit(1, "Estimated costs\n"
                   "AOA sensor system test 40 work-hours × $85 per hour = $3,400 $0 $3,400\n"
                   "Stall warning test 90 work-hours × $85 per hour = $7,650 $0 $7,650 per airplane")
    checker = ClaimChecker("How much does the AOA sensor system test cost per airplane?", [costs])
    assert not checker.check("The AOA sensor system test costs $7,650 per airplane [1].").ok
    assert checker.check("The AOA sensor system test costs $3,400 per airplane [1].").ok
    countries = hit(2, "Table 1: EU Countries Information Country Population (millions) Area (km2) Capital\n"
                       "Denmark 5.8 42,951 Copenhagen Danish\nFinland 5.5 338,424 Helsinki Finnish, Swedish")
    checker = ClaimChecker("What are Finland's population and area?", [countries])
    assert checker.check("Finland's population is 5.5 million and its area is 338,424 km² [1].").ok
    assert not checker.check("Finland's population is 5.5 million and its area is 42,951 km² [1].").ok
    report = hit(3, "营业收入（元） 4,755,785.11 5,699,227.63 -16.55%\n"
                    "归属于上市公司股东的净利润（元） -7,889,855.34 -15,424,679.15 48.85%")
    checker = ClaimChecker("营业收入和净利润是多少？", [report])
    # One sentence, two rows: each figure stands in the row that names it.
    assert checker.check("营业收入为4,755,785.11元，归属于上市公司股东的净利润为-7,889,855.34元[1]。").ok
    assert not checker.check("营业收入为-7,889,855.34元[1]。").ok


def test_a_translated_sentence_is_not_supported_by_an_ordinal_or_part_of_a_longer_number():
    report = hit(1, "东北电气发展股份有限公司 2018 年第一季度报告全文")
    checker = ClaimChecker("How many Stanley Cups have the Maple Leafs won?", [report])
    assert not checker.check("The Maple Leafs have won 1 Stanley Cup [1].").ok  # the 一 of 第一季度
    words = hit(3, "闽（南）台片的闽南语内部较为一致。")  # 一 as a word, not a number
    assert not ClaimChecker("How many?", [words]).check("The Maple Leafs have won 1 Stanley Cup [1].").ok
    tones = hit(4, "粤语有九个声调。")
    assert ClaimChecker("How many tones?", [tones]).check("Cantonese has nine tones [1].").ok
    staff = hit(2, "本次事故共造成一百五十七人死亡。")
    assert ClaimChecker("How many people died?", [staff]).check("157 people were killed [1].").ok
    assert not ClaimChecker("How many people died?", [staff]).check("57 people were killed [1].").ok


def test_a_figure_the_question_states_may_be_worded_otherwise_in_the_passage():
    tax = hit(1, "第一条 在中国境内有住所，或者无住所而一个纳税年度内在中国境内居住累计满一百八十三天的个人，为居民个人。")
    checker = ClaimChecker("外国人在中国一年住满多少天，个税上就算居民个人了？", [tax])
    assert checker.check("外国人在中国一年住满一百八十三天，就算居民个人[1]。").ok
    # The answer's own figures still must be there as they are.
    assert not checker.check("外国人在中国一年住满九十天，就算居民个人[1]。").ok


def test_an_amount_in_millions_is_found_where_the_table_says_millions_and_its_row_the_number():
    sales = hit(1, "Sales in millions of CHF\nPetCare 9373 1959 1939 -20 -4 -11\nNutrition 13 2 1")
    checker = ClaimChecker("How much did PetCare sell?", [sales])
    assert checker.check("PetCare sold 9,373 million CHF [1].").ok
    assert checker.check("Nutrition sold 13 million CHF [1].").ok  # 13 is a cell of its own
    assert not checker.check("PetCare sold 0 million CHF [1].").ok  # no cell says 0
    assert not checker.check("Nutrition sold 3 million CHF [1].").ok  # the 3 of 13 is no cell


def test_a_figure_the_question_states_may_stand_in_the_passages_heading_path():
    """A page of the quarterly report no longer repeats "2018 年第一季度" (its running head is the
    document's title, in every passage's heading path): an answer restating the question's year
    is still grounded, while a year found nowhere is not."""
    row = Hit("a", "q.pdf", 3, "营业收入（元）; 本报告期: 4,755,785.11; 上年同期: 5,699,227.63", 0.5, "sha", 0,
              heading="东北电气发展股份有限公司 2018 年第一季度报告全文 › 第二节 公司基本情况")
    question = "东北电气2018年第一季度的营业收入是多少？"
    assert ClaimChecker(question, [row]).check("东北电气2018年第一季度的营业收入是4,755,785.11元[1]。").ok
    assert not ClaimChecker("东北电气2019年第一季度的营业收入是多少？", [row]).check(
        "东北电气2019年第一季度的营业收入是4,755,785.11元[1]。").ok


def test_a_figure_from_a_row_whose_words_another_row_also_names_and_more_is_refused():
    """"PetCare sold CHF 1,706 million": the Water row holds 1,706 and shares only "CHF million"
    with the sentence, which the PetCare row shares too, besides "PetCare"."""
    rows = ["Product: Water; Sales: CHF 1,706 million", "Product: PetCare; Sales: CHF 9,373 million",
            "Product: Confectionery; Sales: CHF 3,694 million"]
    table = Hit("a", "x.xlsx", 1, "[Sheet] Product; Sales\n" + "\n".join(f"[Sheet] {r}" for r in rows), 0.5, "sha", 0)
    checker = ClaimChecker("How much did PetCare sell?", [table])
    assert not checker.check("PetCare sold CHF 1,706 million [1].").ok
    assert checker.check("PetCare sold CHF 9,373 million [1].").ok
    assert checker.check("PetCare sold CHF 9,373 million, more than Water's CHF 1,706 million [1].").ok


def test_a_figure_from_last_years_table_is_not_this_years():
    tables = Hit("a", "x.xlsx", 1, "[OS · In millions of CHF January–June 2023] Nespresso; Sales (a): 3128; Profit: 672\n"
                                   "[OS · In millions of CHF January–June 2022] Nespresso; Sales (a): 3190; Profit: 757",
                 0.5, "sha", 0)
    checker = ClaimChecker("What were Nespresso's sales in the first half of 2023?", [tables])
    assert not checker.check("Nespresso's sales in the first half of 2023 were 3190 million CHF [1].").ok
    assert checker.check("Nespresso's sales in the first half of 2023 were 3128 million CHF [1].").ok


def test_zero_is_a_claim_that_a_passage_must_state():
    """"研发投入是零" has no digit and no unit, yet it is a figure: shown only when a passage
    states a zero of its own, never read out of a longer number (一百零五, 10)."""
    assert "零" in stated_numbers("东北电气2018年第一季度的研发投入是零[1]。")
    assert stated_numbers("研发投入为0。") == ["零"] and stated_numbers("R&D spending was zero [1].") == ["零"]
    assert "零" not in stated_numbers("共有一百零五人。") + stated_numbers("零售额增长了。")
    report = [hit(7, "东北电气发展股份有限公司 2018年第一季度报告\n营业收入（元）: 本报告期 4,755,785.11; 上年同期 5,699,227.63")]
    shown, stream = run("东北电气2018年第一季度的研发投入是多少？", "东北电气2018年第一季度的研发投入是零[1]。", report)
    assert shown == [] and stream.result.missing == ["零"]
    stated = [hit(8, "研发费用（元）: 本报告期 0.00; 上年同期 0.00")]
    shown, _ = run("本报告期研发费用是多少？", "本报告期研发费用为0[1]。", stated)
    assert shown and "0" in "".join(shown)


def test_a_full_year_figure_is_not_read_from_a_quarter_or_a_half_year():
    """A figure stated for a whole year needs a passage about a whole year: a first-quarter
    report's or a January–June table's figures are not the year's."""
    quarter = [Hit("sha:9", "q1.pdf", 3, "净利润（元）: 本报告期 3,144,125.23; 上年同期 2,010,000.00", 0.5, "sha", 9,
                   "东北电气发展股份有限公司 2019 年第一季度报告全文 › 一、主要财务数据")]
    shown, stream = run("东北电气2019年全年的净利润是多少？", "东北电气2019年全年的净利润是3,144,125.23元[1]。", quarter)
    assert shown == [] and not stream.result.text
    shown, _ = run("东北电气2019年第一季度的净利润是多少？", "东北电气2019年第一季度的净利润是3,144,125.23元[1]。", quarter)
    assert shown and "3,144,125.23" in "".join(shown)
    half = [hit(10, "[Segments · In millions of CHF January–June 2023] Nespresso; Sales: 3190")]
    shown, _ = run("What were Nespresso's sales for the full year 2023?",
                   "Nespresso's sales for the full year 2023 were 3190 million CHF [1].", half, lang="en")
    assert shown == []
    year = [hit(11, "[Segments · In millions of CHF, full year 2023] Nespresso; Sales: 6420")]
    shown, _ = run("What were Nespresso's sales for the full year 2023?",
                   "Nespresso's sales for the full year 2023 were 6420 million CHF [1].", year, lang="en")
    assert shown


PROPERTY = [hit(7, "第九百四十四条 业主违反约定逾期不支付物业费的，物业服务人可以催告其在合理期限内支付。\n"
                   "物业服务人不得采取停止供电、供水、供热、供燃气等方式催交物业费。"),
            hit(8, "The controller may not disclose personal data to third parties without consent.", page=2)]


def test_a_sentence_that_turns_its_passages_rule_around_is_not_shown():
    question = "欠了物业费，物业能直接给我家停水停电吗？"
    flipped = "物业公司可以采取停止供电、供水、供热、供燃气等方式催交物业费[1]。"
    shown, stream = run(question, flipped, PROPERTY)
    assert shown == [] and stream.result.refused is False and stream.result.dropped  # not shown; no answer
    kept, _ = run(question, "物业服务人不得采取停止供电、供水等方式催交物业费[1]。", PROPERTY)
    assert kept == ["物业服务人不得采取停止供电、供水等方式催交物业费[1]。"]
    en, _ = run("Can the controller share my data?", "The controller may disclose personal data to third parties [2].",
                PROPERTY, lang="en")
    assert en == []
    en, _ = run("Can the controller share my data?",
                "The controller may not disclose personal data to third parties without consent [2].", PROPERTY, lang="en")
    assert en and "may not disclose" in en[0]


def test_a_bare_yes_or_no_is_not_shown_and_the_rule_that_follows_is():
    shown, stream = run("欠了物业费，物业能直接给我家停水停电吗？",
                        "不能[1]。物业服务人不得采取停止供电、供水等方式催交物业费[1]。", PROPERTY)
    assert shown == ["物业服务人不得采取停止供电、供水等方式催交物业费[1]。"]
    assert not stream.result.partial and not stream.result.refused
    alone, stream = run("物业能停水吗？", "不能。", PROPERTY)
    assert alone == [] and not stream.result.text  # nothing checked: the caller answers "not found"
    english, _ = run("Can they share it?", "No [2]. The controller may not disclose personal data to third parties [2].",
                     PROPERTY, lang="en")
    assert len(english) == 1 and english[0].startswith("The controller")
    english, _ = run("Can they share it?", "No, the controller may not disclose personal data to third parties [2].",
                     PROPERTY, lang="en")
    assert len(english) == 1 and english[0].startswith("No, the controller")
