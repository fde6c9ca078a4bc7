# ruff: noqa: E501
"""Write eval/stories_sample.jsonl: labelled copies and same-topic different stories for tuning qa.stories."""

from __future__ import annotations

import json
from pathlib import Path

# Texts as the indexer stores them (title line, then the body lines that survive boilerplate removal).
# All written for this sample except A0/A6, which are the bundled seed articles (qa/seeds/).
A0 = """China, Russia vow to up media cooperation in post-epidemic era
BEIJING, Oct. 21 (Xinhua) -- China and Russia will step up efforts in media cooperation in the post-COVID-19 era, according to a video conference for Chinese and Russian media launched Monday.
The conference, which is the 13th of its kind, was attended by more than 40 representatives from administrative departments, central and local media outlets, as well as new-media organizations of the two countries.
Both sides agreed that the mainstream media should report major international events in a comprehensive, impartial and objective way, and stay firm in opposing and resisting false information intended to stigmatize other countries, in a bid to safeguard international justice in the post-COVID-19 era.
The two sides have committed to further carrying out press coordination, communication and exchange visits, as well as promoting the translation, broadcasting and publishing of brilliant works from the two nations.
The conference also called for concrete steps to advance cooperation in new-media and media-convergence projects."""
A0_BODY = A0.split("\n", 1)[1]

B0 = """Three workers killed in Millbrook furniture warehouse fire
MILLBROOK, Ohio (AP) — A fire ripped through a furniture warehouse in Millbrook early Tuesday, killing three workers and sending thick black smoke over the town's east side, officials said.
Fire Chief Dana Ruiz said crews were called to the Hadley Furniture distribution center on Route 9 shortly after 4 a.m. and found the building's north end fully engulfed.
About 20 employees were on the overnight shift. Seventeen got out on their own, Ruiz said, and the bodies of three others were found after the flames were knocked down around 9 a.m.
The names of the dead were not released pending notification of their families.
Residents within a half mile were told to keep windows closed until the smoke cleared. The cause of the fire is under investigation by the state fire marshal's office.
Hadley Furniture said in a statement that it was "heartbroken" and was cooperating with investigators."""
B0_BODY = B0.split("\n", 1)[1]

C0 = """Bank of Veloria holds rates, signals cuts could come later this year
VELORA, March 6 (Reuters) - The Bank of Veloria kept its benchmark interest rate unchanged at 4.25% on Wednesday, as expected, but said easing inflation could allow it to begin lowering borrowing costs in the second half of the year.
The central bank's policy committee voted 5-2 to hold the rate, with two members favouring a quarter-point cut, Governor Ilse Marten told a news conference.
Annual inflation slowed to 3.1% in February from 3.6% in January, official data showed last week, still above the bank's 2% target.
"We are not yet ready to declare victory, but the direction is encouraging," Marten said, adding that wage growth remained too strong for an immediate move.
The veloria, the national currency, weakened 0.4% against the euro after the decision as traders brought forward their bets on a first cut to June.
The bank also lowered its growth forecast for this year to 1.2% from 1.5%, citing weak exports to its main European trading partners."""
C0_BODY = C0.split("\n", 1)[1]

D0 = """Kiprono breaks course record to win Harbourside Marathon
PORT ALDEN, April 14 (AFP) - Kenya's Daniel Kiprono broke the course record to win the Harbourside Marathon on Sunday, crossing the line in 2 hours 5 minutes 41 seconds in cool, windless conditions.
The 27-year-old pulled away from Ethiopia's Getachew Bekele at the 35-kilometre mark and finished 48 seconds clear, lowering the previous record set in 2019 by more than a minute.
Bekele held on for second place, with Uganda's Joshua Okello third in 2:06:58.
"I was feeling strong from the start, and when I saw the clock at 30 kilometres I knew the record was possible," Kiprono told reporters.
Organisers said a record 31,000 runners started the race, which is one of the largest in the region. The winner takes home 50,000 dollars plus a 25,000-dollar bonus for the course record."""
D0_BODY = D0.split("\n", 1)[1]

E0 = """Veloria stocks close higher on bank shares
The Veloria Composite Index rose 0.8 percent to close at 3,214.56 points on Monday, led by gains in bank shares after the central bank held rates.
Turnover on the main board reached 41.2 billion velorias, up from 36.5 billion on Friday.
Gainers outnumbered losers by 312 to 141, while the blue-chip Velora 50 index added 1.1 percent."""

ITEMS: list[dict[str, str]] = [
    # --- A: one Xinhua story and its copies; other stories about China-Russia media ------------------
    {"id": "A0", "story": "A", "kind": "wire original", "text": A0},
    {
        "id": "A1",
        "story": "A",
        "kind": "republication: People's Daily page boilerplate that survives cleaning",
        "text": A0.split("\n", 1)[0]
        + "\n(Xinhua) 11:45, October 22, 2020\n"
        + A0_BODY
        + "\nThis article is republished from Xinhua News Agency. Views expressed do not necessarily reflect those of People's Daily Online.",
    },
    {
        "id": "A2",
        "story": "A",
        "kind": "republication: other headline, portal boilerplate and disclaimer",
        "text": "Chinese and Russian media pledge closer ties after the pandemic\n"
        + "Source: Xinhua | Editor: Zhang Wei | 2020-10-22 14:03\n"
        + A0_BODY
        + "\nDisclaimer: This article is reproduced from other media. The purpose of reprinting is to convey more "
        "information. It does not mean that this website agrees with its views and is responsible for its authenticity.\n"
        "Scan the QR code to follow our official account for more news from China and the world.",
    },
    {
        "id": "A3",
        "story": "A",
        "kind": "light edit: other headline, reworded lead, 'over 40', last paragraph cut",
        "text": "Media of China and Russia to deepen cooperation\n"
        + A0_BODY.replace(
            "China and Russia will step up efforts in media cooperation",
            "Chinese and Russian media will strengthen their cooperation",
        )
        .replace("more than 40 representatives", "over 40 representatives")
        .replace("the two countries.\n", "both countries.\n")
        .rsplit("\n", 1)[0],
    },
    {
        "id": "A9",
        "story": "A",
        "kind": "light edit and portal boilerplate: reworded lead, 'over 40', last paragraph cut, disclaimer added",
        "text": "Media of China and Russia to deepen cooperation\n"
        + A0_BODY.replace(
            "BEIJING, Oct. 21 (Xinhua) -- China and Russia will step up efforts in media cooperation",
            "Chinese and Russian media will strengthen their cooperation",
        )
        .replace("more than 40 representatives", "over 40 representatives")
        .replace("the two countries.\n", "both countries.\n")
        .rsplit("\n", 1)[0]
        + "\nDisclaimer: This article is reproduced from other media. The purpose of reprinting is to convey more "
        "information. It does not mean that this website agrees with its views.",
    },
    {
        "id": "A4",
        "story": "A",
        "kind": "correction: the count changed in a later copy",
        "text": A0.replace("more than 40 representatives", "more than 45 representatives")
        + "\nCorrection: an earlier version of this story gave the wrong number of participants.",
    },
    {
        "id": "A5",
        "story": "A-independent",
        "kind": "independent report of the same conference (other count)",
        "text": """Russian and Chinese journalists discuss post-pandemic cooperation at video conference
MOSCOW, October 21 -- Some 50 participants from Russia and China took part on Monday in the 13th Russian-Chinese media video conference, organisers said.
Speakers from news agencies, regional newspapers and online platforms exchanged views on covering the pandemic and on fighting fake news about the two countries.
The Russian side proposed more joint documentary projects and exchanges of young journalists once travel restrictions are lifted.
Chinese participants suggested expanding the translation of television series and books, a programme both governments have supported since 2016.
The next conference is expected to be held in person if the epidemic situation allows.""",
    },
    {
        "id": "A6",
        "story": "A-forum",
        "kind": "same topic: another event (the bundled Wuxi forum seed)",
        "text": "",  # filled from qa/seeds/000_*.txt below
    },
    {
        "id": "A7",
        "story": "A-12th",
        "kind": "same topic, same agency template: the previous year's conference",
        "text": """China, Russia pledge to boost media exchanges
BEIJING, Nov. 18 (Xinhua) -- China and Russia will further expand exchanges between their media, according to a video conference for Chinese and Russian media held Tuesday.
The conference, which is the 12th of its kind, was attended by about 30 representatives from media outlets, universities and think tanks of the two countries.
Participants reviewed the results of the China-Russia Years of Media Exchanges and agreed to keep producing joint programs on history, culture and tourism.
Both sides agreed that the mainstream media should report major international events in a comprehensive, impartial and objective way.
The conference also decided to set up a working group on joint reporting of major sports events.""",
    },
    {
        "id": "A8",
        "story": "A-taganrog",
        "kind": "same topic: preview of the next forum",
        "text": """Taganrog gets ready to host China-Russia Internet Media Forum
TAGANROG, Aug. 2 -- Preparations are under way in this port city on the Sea of Azov for the fourth China-Russia Internet Media Forum, which opens later this month.
Local officials said around 250 guests from both countries are expected, including executives of internet companies and heads of regional newspapers.
The forum, first held in 2015, moves between the two countries. Last year's meeting in Wuxi, Jiangsu province, drew around 200 attendees.
Organisers plan sessions on short video, news apps and the use of artificial intelligence in newsrooms.""",
    },
    # --- B: an AP fire story, an update, copies; other fire stories in the same town -------------------
    {"id": "B0", "story": "B", "kind": "wire original", "text": B0},
    {
        "id": "B1",
        "story": "B",
        "kind": "republication: other headline, byline and contributor line",
        "text": "3 dead as fire destroys warehouse in Millbrook\n"
        + "By The Associated Press\n"
        + B0_BODY
        + "\nAssociated Press writer Tom Keller in Columbus contributed to this report.\n"
        "Follow the Daily Ledger for more local and regional news, updated throughout the day.",
    },
    {
        "id": "B2",
        "story": "B",
        "kind": "update: death toll raised, new sentence, rest kept",
        "text": "Death toll rises to 4 in Millbrook warehouse fire\n"
        + B0_BODY.replace("killing three workers", "killing four workers")
        .replace("the bodies of three others were found", "the bodies of three others were found")
        .replace(
            "The names of the dead were not released pending notification of their families.",
            "A fourth worker who was taken to hospital with severe burns died Tuesday evening, the county coroner said. "
            "The names of the dead were not released pending notification of their families.",
        ),
    },
    {
        "id": "B3",
        "story": "B-courier",
        "kind": "independent report of the same fire",
        "text": """Four dead after blaze at Hadley Furniture
The Millbrook Courier
Four people died after a fire tore through the Hadley Furniture warehouse on Route 9 before dawn on Tuesday, the county coroner confirmed in the evening.
Neighbours on Elm Street said they woke to explosions and saw flames rising above the trees. "The whole sky was orange," said Maria Lopez, who has lived across from the site for twelve years.
Firefighters from Millbrook and three neighbouring departments spent five hours on the blaze. Chief Dana Ruiz praised the night shift workers who helped colleagues out of the building.
The warehouse employs about 120 people and opened in 2011. A vigil is planned for Thursday at St. Mark's Church.""",
    },
    {
        "id": "B4",
        "story": "B-second-fire",
        "kind": "same topic, same agency template: another warehouse fire a month later",
        "text": """No injuries as fire damages Millbrook packaging warehouse
MILLBROOK, Ohio (AP) — A fire damaged a packaging warehouse in Millbrook late Friday, a month after a blaze at a furniture distribution center in the same town killed four workers, officials said.
Fire Chief Dana Ruiz said crews were called to the Orbis Packaging plant on Mill Road shortly before midnight and had the fire under control within an hour.
All 12 employees on the evening shift got out safely. The cause is under investigation by the state fire marshal's office.
Residents were told to keep windows closed until the smoke cleared.""",
    },
    {
        "id": "B5",
        "story": "B-cause",
        "kind": "same topic: follow-up on the cause reusing background sentences",
        "text": """Faulty wiring blamed for deadly Millbrook warehouse fire
MILLBROOK, Ohio (AP) — Faulty wiring in a loading dock caused the fire that killed four workers at a furniture warehouse in Millbrook last month, the state fire marshal's office said Monday.
Investigators found that an overloaded extension cord powering a battery charger overheated and ignited packing material, the report said.
Fire Chief Dana Ruiz said crews were called to the Hadley Furniture distribution center on Route 9 shortly after 4 a.m. and found the building's north end fully engulfed.
Hadley Furniture said it had hired an outside firm to inspect the electrical systems at all of its sites. The company faces a federal safety inspection.""",
    },
    # --- C: a Reuters central bank story; truncated copy; last month's decision --------------------------
    {"id": "C0", "story": "C", "kind": "wire original", "text": C0},
    {
        "id": "C1",
        "story": "C",
        "kind": "republication: other headline, agency credit lines",
        "text": "Veloria central bank keeps key rate at 4.25%\n"
        + C0_BODY
        + "\nReporting by Anna Sorel; Editing by Mark Hale.\nOur Standards: The Thomson Reuters Trust Principles.",
    },
    {
        "id": "C2",
        "story": "C",
        "kind": "republication cut short: first four paragraphs only",
        "text": "Bank of Veloria stands pat on rates\n" + "\n".join(C0_BODY.split("\n")[:4]),
    },
    {
        "id": "C3",
        "story": "C-independent",
        "kind": "independent report of the same decision",
        "text": """Veloria's central bank leaves rates on hold, split vote points to spring cut
The Bank of Veloria left borrowing costs unchanged on Wednesday, but two of the seven policymakers wanted to cut, a sign that relief for mortgage holders may be near.
The benchmark rate stays at 4.25%, where it has been since last summer. Governor Ilse Marten said the committee wanted "a few more months of good news" on prices.
Economists at Norbank said they now expect a first cut in May. Inflation has fallen for five straight months and stood at 3.1% in February.
Exporters welcomed the weaker currency after the announcement.""",
    },
    {
        "id": "C4",
        "story": "C-february",
        "kind": "same topic, same agency template: the previous month's decision",
        "text": """Bank of Veloria holds rates, says inflation fight not over
VELORA, Feb. 7 (Reuters) - The Bank of Veloria kept its benchmark interest rate unchanged at 4.25% on Wednesday, as expected, and said it was too early to discuss cutting borrowing costs.
The central bank's policy committee voted unanimously to hold the rate, Governor Ilse Marten told a news conference.
Annual inflation slowed to 3.6% in January from 4.0% in December, still well above the bank's 2% target.
"It is far too soon to relax," Marten said.
The veloria firmed 0.3% against the euro after the decision.""",
    },
    # --- D: an AFP marathon story; a corrected copy; the women's race ---------------------------------
    {"id": "D0", "story": "D", "kind": "wire original", "text": D0},
    {
        "id": "D1",
        "story": "D",
        "kind": "republication: other headline, credit footer",
        "text": "Record run: Kiprono wins in Port Alden\n"
        + D0_BODY
        + "\n(With AFP)\nPhoto: Daniel Kiprono crosses the finish line on Sunday.",
    },
    {
        "id": "D2",
        "story": "D",
        "kind": "correction: the winning time fixed, one sentence dropped",
        "text": D0.replace("2 hours 5 minutes 41 seconds", "2 hours 5 minutes 14 seconds").replace(
            "Bekele held on for second place, with Uganda's Joshua Okello third in 2:06:58.\n", ""
        ),
    },
    {
        "id": "D3",
        "story": "D-independent",
        "kind": "independent report of the same race",
        "text": """Harbourside Marathon: Kiprono storms to victory in record time
Daniel Kiprono produced the run of his life on the streets of Port Alden yesterday, smashing the course record as more than 30,000 runners took part in the city's biggest ever marathon.
The Kenyan, who was only fifth here two years ago, made his decisive move on the long climb past the old harbour and never looked back, finishing in 2:05:41.
Local favourite Sam Whitlock was the first home runner in 14th place. "The crowds were unbelievable," he said.
Race director Helen Ortiz said the event raised more than 2 million dollars for charity.""",
    },
    {
        "id": "D4",
        "story": "D-women",
        "kind": "same event, another story: the women's race by the same agency",
        "text": """Chebet defends Harbourside Marathon title
PORT ALDEN, April 14 (AFP) - Kenya's Ruth Chebet defended her Harbourside Marathon title on Sunday, winning in 2 hours 21 minutes 9 seconds in cool, windless conditions.
The 31-year-old broke away from Ethiopia's Almaz Tesfaye at the 30-kilometre mark and won by more than a minute.
"I wanted to show that last year was not luck," Chebet told reporters.
Organisers said a record 31,000 runners started the race. The women's winner also takes home 50,000 dollars.""",
    },
    # --- E: a short market brief; the next day's brief in the same template -----------------------------
    {"id": "E0", "story": "E", "kind": "short template brief", "text": E0},
    {
        "id": "E1",
        "story": "E",
        "kind": "republication of the brief with a credit line",
        "text": "Stocks end higher in Velora\n" + E0.split("\n", 1)[1] + "\n(Reporting by the business desk)",
    },
    {
        "id": "E2",
        "story": "E-tuesday",
        "kind": "same template, next day's numbers",
        "text": """Veloria stocks close lower on profit taking
The Veloria Composite Index fell 0.3 percent to close at 3,204.91 points on Tuesday, as investors took profits in bank shares after Monday's rally.
Turnover on the main board reached 38.7 billion velorias, down from 41.2 billion on Monday.
Losers outnumbered gainers by 228 to 197, while the blue-chip Velora 50 index shed 0.5 percent.""",
    },
]


def main() -> None:
    here = Path(__file__).resolve().parent
    seed = next((here.parent / "qa" / "seeds").glob("000_*.txt")).read_text()
    for item in ITEMS:
        if item["id"] == "A6":
            item["text"] = seed.strip()
        item["topic"] = item["id"][0]
    with open(here / "stories_sample.jsonl", "w") as f:
        for item in ITEMS:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"{len(ITEMS)} articles, {len({i['story'] for i in ITEMS})} stories")


if __name__ == "__main__":
    main()
