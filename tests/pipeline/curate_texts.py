"""Clean English paragraphs shared by the curate tests (each passes every web rule on its own)."""

GOOD = (
    "The river rises in the hills to the north of the town and flows slowly through farmland before it "
    "reaches the sea. In spring the water is high and cold, and the farmers wait for it to fall before they "
    "plant their fields. Most of the old mills along its banks have been turned into houses, but one still "
    "grinds flour for the bakery in the square. Visitors come in summer to walk the path that follows the "
    "water from the bridge to the harbour, and the cafes stay open late. In winter the town is quiet again."
)
OTHER = (
    "The council met on Tuesday evening to discuss the budget for the coming year. Members agreed that the "
    "library should stay open on Sundays and that the swimming pool needs a new roof before the winter. A "
    "proposal to raise parking fees in the centre was rejected after a long debate with local shop owners. "
    "The mayor said the town would apply for a national grant to repair the old railway station, which has "
    "been closed since the line was moved to the coast. The next meeting will be held in March."
)
