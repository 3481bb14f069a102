"""What the general and web sources of the sample corpus draw on, written for dapt: general prose (news,
encyclopedia, stories), blog pages, and the material of the web's planted noise (non-English pages,
boilerplate lines, short pages, junk tokens, URLs, the replacement words of near-duplicates).
"""

from __future__ import annotations

from typing import Any

from dapt.pipeline.sample.terms import FIRST_NAMES, Genre, integer

GEN_SLOTS: dict[str, Any] = {
    "town": ["Ashbury", "Millbrook", "Kelston", "Fenwick", "Harrowgate", "Linden Vale", "Stonebridge", "Wrexford"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "votes": ["seven to two", "five to four", "unanimously", "six to three"],
    "plan": ["build a new footbridge over the river", "extend the cycle path to the station", "restore the old "
             "market hall", "open a community garden near the school", "repair the harbour wall"],
    "thing": ["traffic in the centre", "state of the old bridge", "lack of parking", "flooding near the river"],
    "num": ["two", "three", "four", "five"], "count": ["twenty", "forty", "a hundred", "three hundred", "sixty"],
    "funding": ["a grant from the regional government", "local taxes and private donations", "a national fund "
                "for small towns"],
    "region": ["the north of the country", "the western valleys", "the coastal plain", "the eastern hills",
               "the southern lakes"],
    "score": ["two to one", "three to nothing", "four to two"], "years": ["twelve", "twenty", "thirty"],
    "animal": ["red fox", "grey heron", "pine marten", "barn owl", "otter", "hedgehog", "common toad"],
    "creature": ["red fox is a mammal", "grey heron is a wading bird", "pine marten is a small mammal",
                 "barn owl is a bird of prey", "common toad is an amphibian", "otter is a mammal"],
    "habitat": ["forests", "wetlands", "meadows", "rocky coasts"],
    "food": ["insects and worms", "small fish", "berries and seeds", "mice and voles"],
    "time": ["early morning", "evening", "night"], "river": ["The Avon", "The Lune", "The Severn", "The Tamar"],
    "km": integer(40, 350), "century": ["twelfth", "fourteenth", "sixteenth", "eighteenth"],
    "industry": ["wool and weaving", "fishing", "farming", "coal mining", "shipbuilding"],
    "yearold": integer(1820, 1935), "family": ["Celtic", "Germanic", "Romance", "Uralic"],
    "adj": ["shy", "clever", "graceful", "curious", "adaptable"],
    "painter": ["Anna Lindqvist", "Tomas Varga", "Ellen Moray", "Jacob Ferrand"],
    "subject": ["quiet harbour scenes", "portraits of farm workers", "winter landscapes", "bright still lifes"],
    "name": FIRST_NAMES, "place": ["beach", "canal", "edge of the wood", "old railway line", "river bank"],
    "relative": ["brother", "sister", "grandmother", "cousin", "oldest friend"],
    "object": ["wooden box", "blue jug", "leather bag", "copper kettle"],
    "smell": ["apples", "wood smoke", "fresh bread", "lavender"], "flower": ["roses", "tulips", "sunflowers"],
}
GENERAL = [
    Genre("news", (
        "The council of {town} voted {votes} on {weekday} to approve a plan to {plan}.",
        "Residents who attended the meeting said the {thing} had been a [worry|problem] for years.",
        "The work is expected to take {num} years and will be paid for with {funding}.",
        "Heavy rain swept across {region} on {weekday}, closing [several roads|two bridges] and delaying trains.",
        "[Officials|The police|Emergency services] urged people to [stay at home|avoid travelling] until the "
        "water had gone down.",
        "The local football club won its first title in {years} years after a {score} victory over its rival.",
        "[Thousands of|Hundreds of|Many] fans gathered in the [main square|park|streets near the ground] to "
        "celebrate with the players.",
        "The museum in {town} will reopen next [spring|summer|year] after a renovation that added {num} new "
        "galleries.",
        "A spokesperson for the [school|college] said that the new [library|sports hall] would be open to the "
        "public [at weekends|in the evenings].",
        "Volunteers planted more than {count} trees along the [river|canal|main road] as part of a [weekend "
        "event|school project].",
        "The festival drew visitors from {region} and featured music, food and a parade through the old town.",
        "Forecasters expect [cooler temperatures|light winds] and clear skies for the rest of the week.",
        "The mayor of {town} thanked everyone who had helped to clear the streets after the storm.",
        "Police closed the road for several hours while the fallen tree was [removed|cut up and taken away].",
        "The new bus service will connect {town} with the hospital and the university every {num} hours.",
        "Shop owners said that trade had [improved|picked up] since the market moved back to the square.",
    ), GEN_SLOTS),
    Genre("encyclopedia", (
        "The {creature} found in the {habitat} of {region}.",
        "It feeds mainly on {food} and is most active in the {time}.",
        "{river} is a river that flows for about {km} kilometres through {region} before reaching the sea.",
        "The town of {town} was founded in the {century} century and grew around a market by the river.",
        "Its economy was based on {industry} until the arrival of the railway in {yearold}.",
        "The [castle|abbey|town hall], built of local [stone|brick], was rebuilt several times and is now a "
        "[museum|hotel|library].",
        "The language of the area belongs to the {family} family and has a rich tradition of [songs|stories].",
        "Naturalists have described the {animal} as one of the most {adj} animals of its kind.",
        "The climate is [mild|temperate], with [warm|dry] summers and [wet|cold] winters, and snow is rare "
        "near the coast.",
        "{painter} was a painter known for {subject}, and many of the works hang in the national gallery.",
        "The bridge, completed in {yearold}, was at the time the longest of its kind in the country.",
        "The population of the [island|valley|region] has [declined|grown slowly] since the middle of the last "
        "century.",
        "Young animals leave their parents after [a few months|about a year] and look for a territory of their own.",
        "The cathedral took more than {years} years to build and was finished in {yearold}.",
        "Most of the land is used for [grazing|farming|forestry], and small villages are scattered along the "
        "valleys.",
    ), GEN_SLOTS),
    Genre("story", (
        "{name} walked along the {place} as the sun went down behind the hills.",
        "She had not seen her {relative} since the summer they spent together at the lake.",
        "The {object} on the kitchen table still smelled of {smell}.",
        "When the [rain|storm] started, {name} ran back to the [house|barn|cottage] and shut the door.",
        "Nobody in the village knew where the {animal} had come from, but the children gave it a name.",
        "For a long time they sat in silence and listened to the [wind in the trees|rain on the roof|sound of "
        "the sea].",
        "{name} opened the [letter|envelope] slowly, afraid of what it might say.",
        "The next morning the [fields|roofs] were white with [frost|snow] and the air was very still.",
        "He laughed and said that he would be back before the end of the [week|month|summer].",
        "It was the kind of evening that {name} would remember for many years.",
        "At the end of the road stood a small house with a blue door and a garden full of {flower}.",
        "They made [tea|coffee|soup], talked about the [old days|people they had known], and forgot about the time.",
        "In the morning {name} found a note by the door, written in pencil.",
        "The train was late, so {name} waited on the platform and watched the [birds|clouds] over the station.",
        "Her {relative} had always said that the old house was full of secrets.",
    ), GEN_SLOTS),
]

WEB_SLOTS: dict[str, Any] = GEN_SLOTS | {
    "goal": ["grow tomatoes on a balcony", "save money on groceries", "learn to bake bread", "plan a cheap "
             "weekend away", "keep a small flat tidy", "start running again"],
    "step": ["make a simple list", "check the weather", "measure the space you have", "set a budget"],
    "product": ["folding bike", "camping stove", "electric kettle", "reading lamp", "rain jacket"],
    "use": ["short trips", "small kitchens", "daily commuting", "family holidays"],
    "hobby": ["gardening", "baking", "hiking", "painting", "woodwork"],
    "tool": ["a sharp knife", "a tape measure", "a pair of gloves", "a large bowl", "a watering can"],
    "spot": ["the botanical garden", "the old harbour", "the hills above the town", "the covered market"],
    "hours": integer(4, 30),
}
# A web crawl holds blog posts and, as often, the same general prose as general.jsonl.gz.
WEB = [
    Genre("blog", (
        "In this post we share a few simple tips to help you {goal}.",
        "The first thing to do is to {step} before you start.",
        "Many readers have asked us how to {goal} without spending too much money.",
        "We tested the {product} for {num} weeks and found that it works well for {use}.",
        "The battery lasts about {hours} hours, which is more than enough for a [normal day|long trip|busy week].",
        "If you are new to {hobby}, start with something small and build up slowly.",
        "Make sure that you have all of the tools ready, including {tool} and {tool}.",
        "Our favourite part of the trip was a walk through {spot} in the early morning.",
        "The price is [fair|a little high], and the customer service team answered our questions [quickly|politely].",
        "Leave a comment below and let us know what [worked for you|you think|you would change].",
        "Overall, we think the {product} is a good choice for anyone who wants to {goal}.",
        "It took us about {num} hours to finish, but the result was worth the effort.",
        "Do not worry if it goes wrong the first time, because everyone makes mistakes at the [start|beginning].",
        "We [stayed|spent two nights] in a small guest house near {spot}, and the owners were very kind.",
        "Last year we tried to {goal}, and we learned a lot from our mistakes.",
        "The instructions were easy to follow, although the pictures could have been [larger|clearer].",
    ), WEB_SLOTS),
    *GENERAL,
]

# Pages in other languages: the web's non_english defect (pipeline.sample takes them round robin).
FOREIGN_SLOTS: dict[str, Any] = {"n": integer(2, 40), "year": integer(1850, 2020)}
FOREIGN: dict[str, Genre] = {
    "de": Genre("de", (
        "Die Stadt liegt am Ufer eines großen Flusses und hat ungefähr {n} tausend Einwohner.",
        "Im Sommer kommen viele Besucher, um die alte Burg und den Marktplatz zu sehen.",
        "Der Bahnhof wurde im Jahr {year} gebaut und ist heute ein wichtiger Knotenpunkt.",
        "Die Kinder gehen jeden Morgen zu Fuß in die Schule, die hinter der Kirche steht.",
        "Nach dem Regen war die Luft frisch und die Straßen glänzten im Licht der Laternen.",
        "Wir haben uns entschieden, das Wochenende bei unseren Freunden auf dem Land zu verbringen.",
        "Das Rezept ist einfach, aber man braucht etwas Geduld, bis der Teig aufgegangen ist.",
        "Die Regierung hat angekündigt, dass die neuen Regeln ab dem nächsten Monat gelten sollen.",
        "Viele Menschen fahren lieber mit dem Fahrrad, weil es schneller und günstiger ist.",
        "Der Verein feiert in diesem Jahr sein {n}. Jubiläum mit einem großen Fest im Park.",
        "Es ist wichtig, dass man genug Wasser trinkt, besonders wenn es draußen heiß ist.",
        "In der Bibliothek gibt es eine Ausstellung über die Geschichte der Region.",
    ), FOREIGN_SLOTS),
    "fr": Genre("fr", (
        "La ville se trouve au bord d'une grande rivière et compte environ {n} mille habitants.",
        "En été, de nombreux visiteurs viennent voir le vieux château et la place du marché.",
        "La gare a été construite en {year} et reste aujourd'hui un point de passage important.",
        "Les enfants vont à l'école à pied chaque matin, en passant devant la boulangerie.",
        "Après la pluie, l'air était frais et les rues brillaient sous la lumière des réverbères.",
        "Nous avons décidé de passer le week-end chez des amis à la campagne.",
        "La recette est simple, mais il faut un peu de patience pour que la pâte lève.",
        "Le gouvernement a annoncé que les nouvelles règles entreront en vigueur le mois prochain.",
        "Beaucoup de gens préfèrent se déplacer à vélo, parce que c'est plus rapide et moins cher.",
        "L'association fête cette année son {n}e anniversaire avec une grande fête dans le parc.",
        "Il est important de boire beaucoup d'eau, surtout quand il fait très chaud dehors.",
        "La bibliothèque présente une exposition sur l'histoire de la région et de ses habitants.",
    ), FOREIGN_SLOTS),
    "es": Genre("es", (
        "La ciudad está a orillas de un gran río y tiene unos {n} mil habitantes.",
        "En verano llegan muchos visitantes para ver el viejo castillo y la plaza del mercado.",
        "La estación de tren se construyó en {year} y hoy sigue siendo un lugar de paso importante.",
        "Los niños van andando a la escuela todas las mañanas, por la calle de la iglesia.",
        "Después de la lluvia el aire estaba fresco y las calles brillaban bajo las farolas.",
        "Hemos decidido pasar el fin de semana en casa de unos amigos en el campo.",
        "La receta es sencilla, pero hace falta un poco de paciencia para que la masa suba.",
        "El gobierno ha anunciado que las nuevas normas entrarán en vigor el mes que viene.",
        "Mucha gente prefiere ir en bicicleta, porque es más rápido y más barato.",
        "La asociación celebra este año su {n} aniversario con una gran fiesta en el parque.",
        "Es importante beber mucha agua, sobre todo cuando hace mucho calor fuera.",
        "La biblioteca tiene una exposición sobre la historia de la región y de su gente.",
    ), FOREIGN_SLOTS),
}

# Lines a crawler finds on every page of a site (navigation, banners, footers): the line-dedup targets.
BOILERPLATE_HEAD = [
    "Skip to main content",
    "Home | News | Sport | Weather | Travel | Contact",
    "Home > Blog > Articles",
    "We use cookies to improve your experience. By continuing to browse this site you agree to our use of cookies.",
    "Accept all cookies | Manage preferences",
    "Sign in | Register | Subscribe",
]
BOILERPLATE_FOOT = [
    "All rights reserved.",
    "© 2024 Example Media Ltd. All rights reserved.",
    "Subscribe to our newsletter for the latest updates.",
    "Share this article: Facebook | Twitter | Email",
    "Privacy Policy | Terms of Use | Sitemap",
    "Follow us on social media.",
    "Related posts",
    "Click here to read more.",
]
SHORT_WEB_PAGES = [
    "Page not found.", "This page has moved. Click here to continue.", "Coming soon!", "Login required.",
    "Thank you for your order.", "Sorry, this item is out of stock.", "Loading...", "Error 404: the page you "
    "requested could not be found.", "Please enable cookies to continue.", "Your session has expired.",
]
# Symbol soup: '#' and ellipsis heavy (Gopher's symbol-to-word ratio), most tokens still holding a digit or
# letter so that word counters which skip pure punctuation still see a page of 50+ words.
JUNK_TOKENS = ["###", "$$$", "@@", "...", "&&", "|||", "***", "%%", "#tag", "#1", "0x00", ">>>", "~~~", "#sale",
               "#win", "$$99", "@@user1", "#2024", "x100", "#FREE", "…", "##42", "#deal", "++7", "#top10", "#A1"]
WEB_HOSTS = ["news.example.com", "blog.example.org", "shop.example.net", "www.example.com", "forum.example.org",
             "wiki.example.net"]
URL_WORDS = ["article", "post", "page", "story", "item", "p", "read"]
# Replacement words for near-duplicates: common English words, so edits look like light rewriting.
EDIT_WORDS = ["house", "river", "quickly", "green", "paper", "window", "market", "simple", "morning", "answer",
              "garden", "travel", "letter", "number", "bright", "report", "corner", "season", "question",
              "village", "yellow", "summer", "minute", "follow", "history", "kitchen", "station", "quiet",
              "careful", "engine", "silver", "forest", "button", "bottle", "circle", "island", "doctor",
              "famous", "cotton", "planet", "ticket", "bridge", "pocket", "candle", "shadow", "winter"]
