"""Real-looking domain documents that the web rules drop and the domain profiles must keep, and the web junk
every profile must still drop (shapes taken from ../shared/corpus: MedQuAD's NCI PDQ pages, LegalBench's CUAD
clauses, Reuters-21578 wires, TAT-QA report tables)."""

_TRIALS = (
    "This summary section describes treatments that are being studied in clinical trials. It may not mention "
    "every new treatment being studied. Information about clinical trials is available from the NCI website.\n"
    "Patients may want to think about taking part in a clinical trial.\n"
    "For some patients, taking part in a clinical trial may be the best treatment choice. Clinical trials are "
    "part of the cancer research process. Clinical trials are done to find out if new cancer treatments are "
    "safe and effective or better than the standard treatment. Many of today's standard treatments for cancer "
    "are based on earlier clinical trials. Patients who take part in a clinical trial may receive the standard "
    "treatment or be among the first to receive a new treatment."
)
# Two questions of one PDQ page whose answers share a whole section (the repeated lines are 65-620
# characters, ~30 % of the page): Gopher's dup_line_char_frac 0.2 and FineWeb's 0.1 drop it.
MEDQUAD_PDQ = f"""Penile Cancer

Question: What is (are) Penile Cancer ?
Answer: Key Points
 - Penile cancer is a disease in which malignant (cancer) cells form in the tissues of the penis. - Human papillomavirus infection may increase the risk of developing penile cancer.
Penile cancer is a disease in which malignant (cancer) cells form in the tissues of the penis. The penis is a rod-shaped male reproductive organ that passes sperm and urine from the body. It contains two types of erectile tissue with blood vessels that fill with blood to make an erection.
Human papillomavirus infection may increase the risk of developing penile cancer. Anything that increases your chance of getting a disease is called a risk factor. Having a risk factor does not mean that you will get cancer; not having risk factors does not mean that you will not get cancer. Talk with your doctor if you think you may be at risk.

Question: What are the treatments for Penile Cancer ?
Answer: There are different types of treatment for patients with penile cancer. Four types of standard treatment are used: surgery, radiation therapy, chemotherapy and biologic therapy.
{_TRIALS}

Question: What is the outlook for Penile Cancer ?
Answer: Certain factors affect prognosis (chance of recovery) and treatment options. The prognosis depends on the stage of the cancer and the location and size of the tumor.
{_TRIALS}"""

# One CUAD clause: 26 words, one sentence, one of Gopher's stop words ("of").
LEGAL_CLAUSE = ("Customer will not assign this Agreement or any of its rights hereunder without the prior written "
                "consent of IBM, such consent not to be unreasonably withheld.")
LEGAL_CLAUSE_ONE_STOP_WORD = ("Power2Ship will pay WLI 10% of any activation commissions (\"Unit Commissions\"), "
                              "if any, it receives from customers referred by WLI.")

# Reuters wires: a 34-word item and a dividend notice (22 words, no stop word).
REUTERS_SHORT = """MALTA TENDERS FOR WHITE SUGAR TODAY - TRADE
LONDON, April 7 - Malta is tendering to buy 3,000 tonnes
white sugar today for arrival in two equal parts in May and
June, traders said."""
REUTERS_DIVIDEND = """PEOPLES BANCORPORATION <PEOP> QUARTERLY DIVIDEND
SEATTLE, March 2 - Qtly div 25 cts vs 25 cts
    Pay April 24
    Record March 31"""
# Wires with none of Gopher's eight stop words and too few numeric rows to be a table (a 13-word dateline,
# figures spelled out): a dividend notice and a one-sentence deal item.
REUTERS_DIVIDEND_SPELLED = """KESTREL FOODS CORP <KSF> SETS QUARTERLY
CEDAR RAPIDS, Iowa, March 9 - Qtly div six cts vs six cts prior
    Pay April Eight
    Record March 27"""
REUTERS_DEAL = """DATAWARE HOLDINGS BUYS TRAINING FIRM
BOSTON, March 4 - Dataware Holdings Inc said it
purchased Learnmark Inc, a software training company
based in Albany, N.Y.
    Terms were not disclosed."""
# An earnings table: py3langid calls it Nigerian Pidgin (pcm, 0.15) on the raw text.
EARNINGS_TABLE = """HARPER INTERNATIONAL INC <HNT> 3RD QTR NET
SAN ANTONIO, Texas, March 3 - Qtr ended Jan 31
    Shr 12 cts vs 19 cts
    Net 369,000 vs 358,000
    Revs 7,076,000 vs 6,712,000
    Avg shrs 3,050,000 vs 1,850,000
    Nine mths
    Shr 53 cts vs 63 cts
    Net 1,523,000 vs 1,158,000
    Revs 22.6 mln vs 20.7 mln
    Avg shrs 2,852,198 vs 1,850,000"""
# An all-capitals wire: py3langid on the raw text says pcm (0.02).
REUTERS_CAPS = """SOUTH KOREAN WON FIXED AT 25-MONTH HIGH
SEOUL, April 8 - THE BANK OF KOREA SAID IT FIXED THE
MIDRATE OF THE WON AT 844.30 TO THE DOLLAR, ITS HIGHEST LEVEL
SINCE FEBRUARY 26, 1985, WHEN IT WAS 843.90.
    THE WON WAS SET at 845.50 YESTERDAY.
    THE WON HAS RISEN 2.03 PCT AGAINST THE DOLLAR SO FAR THIS
YEAR, AFTER RISING 3.34 PCT IN 1986.
 REUTER"""
# A rate sheet: 36 % of its words hold a letter.
RATE_SHEET = """HONG KONG EXCHS NOON - APR 7
us        7.8015 - 7.8035
 uk        12.622 - 12.634
 us/uk     1.6180 - 1.6190
 us/w ger  1.8215 - 1.8225
 us/switz  1.5140 - 1.5150
 spore     3.6506 - 3.6534
 japan     145.20 - 145.30
 canada    1.3050 - 1.3060"""
# A TAT-QA report table: every "|" and "$" is a word without letters (alpha-word ratio ~0.4).
REPORT_TABLE = """Net sales by segment and industry end market(1) were as follows:

(1) Industry end market information is presented consistently with our internal management reporting and may be revised periodically as management deems necessary.

 |  | Fiscal | 
 | 2019 | 2018 | 2017
 |  | (in millions) | 
Transportation Solutions: |  |  | 
Automotive | $ 5,686 | $ 6,092 | $  5,228
Commercial transportation | 1,221 | 1,280 | 997
Sensors | 914 | 918 | 814
Total Transportation Solutions | 7,821 | 8,290 | 7,039
Industrial Solutions: |  |  | 
Industrial equipment | 1,949 | 1,987 | 1,747
Aerospace, defense, oil, and gas | 1,306 | 1,157 | 1,075
Energy | 699 | 712 | 685
Total Industrial Solutions | 3,954 | 3,856 | 3,507
Total | $ 13,448 | $ 13,988 | $ 12,185"""

# Web junk every domain must still drop (one home: test_rules_domains and test_rules_profiles both plant it).
JUNK = {
    "keyword_spam": "cheap pills online buy now " * 30,
    "symbols": "$$$ ### %%% !!! *** 100% 200% 300% >>> <<< ||| === +++ ~~~ ^^^ " * 8,
    "non_english": ("Der Ausschuss hat am Dienstag den Haushalt für das kommende Jahr beraten und beschlossen, "
                    "dass die Stadt mehr Geld für Schulen, Straßen und das neue Krankenhaus ausgeben wird. ") * 4,
    "lorem_ipsum": ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. Our team is ready to help you with "
                    "the best offers and deals in the city. Contact us today to learn more about the services we "
                    "provide, the prices we charge and the way we work with families and small companies. New "
                    "customers get a discount on the first order, and delivery is free for the whole month."),
    "link_farm": "\n".join(["Click here for the best casino bonus and free spins today"] * 6
                           + ["Top online casino reviews for players in the United States"] * 6),
    "nav_menu": "Home\nProducts\nServices\nSolutions\nPricing\nBlog\nCareers\nPartners\nSupport\nDocs\nCart\nAccount",
    "boilerplate": ("This site uses cookies to improve your experience.\nAccept all cookies\n"
                    "Skip to main content\nHome | About | Contact | Login\n"
                    "Privacy Policy | Terms of Use\n© 2024 Acme Corp. All rights reserved."),
    # A German price table with a sentence: a table, but confidently German.
    "non_english_table": """Preisliste für das Jahr 2024, gültig ab dem ersten Januar bis zum Ende des Jahres.
Die Preise verstehen sich zuzüglich der gesetzlichen Mehrwertsteuer und der Versandkosten.
Artikel 1001 Schraube verzinkt 0,12 EUR
Artikel 1002 Mutter verzinkt 0,08 EUR
Artikel 1003 Unterlegscheibe 0,05 EUR
Artikel 1004 Dübel 8 mm 0,10 EUR
Artikel 1005 Holzschraube 4 x 40 0,09 EUR""",
    "cjk_spam": "\n".join(["最新电影免费在线观看 2024 高清完整版 第%d集 立即播放" % i for i in range(1, 9)]),
    "script": ("This page needs a modern browser to show the store, the cart and the offers of the week. "
               "If nothing appears, reload the page or try again later with another device. The team is "
               "working on a fix and thanks you for your patience while the site is being updated. "
               "function init() { var app = document.getElementById('app'); app.render(); }"),
}
