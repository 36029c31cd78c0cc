"""The triage lexicon: weighted patterns per category, in Dutch and English.

The team reads and edits this file, so it is data, not code. Each feature is a
regular expression that runs on *normalised* text (see classifier.normalise):
lowercase, accents folded, letters repeated three or more times squeezed to two,
``#`` dropped from hashtags, and these placeholders substituted:

    xbrandx      a handle of the company itself (@oranjebank)
    ximpostorx   a handle that imitates the company (@oranjebank_help, @0ranjebank)
    xuserx       any other handle
    xurlx        a URL with a scheme or www.
    xlookalikex  a bare domain that imitates the company (oranjebank-verificatie.nl)
    xmoneyx      an amount of money (€5, 5 euro, $100, 10k)
    emo...       an emoji signal (see EMOJI_SIGNALS)

A feature that fires adds its weight to every category it lists (weights may be
negative). A combination fires when all the features it names have fired, and
adds its own weights: it encodes "both together mean more than either alone".
Patterns must stay linear: no nested quantifiers, bounded gaps only (``.{0,40}``).
"""

# The company's own handles and the stem that impostors imitate.
BRAND_HANDLES = ("oranjebank",)
BRAND_DOMAINS = ("oranjebank.nl", "oranjebank.com")
BRAND_STEM = r"[o0]ranje"

# Emoji (and emoji-like symbols) mapped to a signal token; the rest are dropped.
EMOJI_SIGNALS = {
    "emoangry": "😡🤬😠👿💢",
    "emofinger": "🖕",
    "emoclown": "🤡🐒💩🐷",
    "emoeyeroll": "🙄🙃😒",
    "emofrustrated": "😤😩😫😭😢",
    "emopositive": "🙏👍🙌👏❤🧡💙💚😊🙂🥰💪⭐🌟✨😃😀",
    "emomoney": "💰💸💎🚀🤑📈🌕💵💶🎰🎁",
    "emothinking": "🤔",
    "emoshrug": "🤷",
    "emolaugh": "😂🤣😅😆",
}

# name -> (regex, {category: weight})
FEATURES: dict[str, tuple[str, dict[str, float]]] = {
    # ------------------------------------------------------------------ question
    "q:mark": (r"\?", {"question": 1.0}),
    "q:opener_nl": (
        r"(?:^|[.!?,:]\s*|xbrandx\s+|vraagje\W{0,3}|hoi\W{0,3}|hallo\W{0,3}"
        r"|goedemorgen\W{0,3}|goedemiddag\W{0,3})"
        r"(?:hoe(?! lang nog)|kan ik|kun je|kunnen jullie|kan je|kan het|waar|wanneer|welke|"
        r"wat (?:is|zijn|moet|kost)|moet ik|mag ik|is het|is er|zijn er|"
        r"heb ik|hebben jullie|werkt|bieden jullie|weet iemand|iemand ervaring)\b",
        {"question": 1.6},
    ),
    "q:ask_nl": (
        r"\b(?:hoe (?:kan|kun|zet|werkt|lang(?! nog)|vaak|doe|krijg|moet)|kan ik|kun je|"
        r"kan je|waar vind ik|waar kan ik|weet iemand|iemand ervaring|"
        r"wat moet ik|moet ik|mag ik|hoeveel|wanneer wordt|wanneer krijg|"
        r"is er een manier|vraagje|zijn er kosten|wat zijn de kosten|"
        r"welke documenten|kunnen jullie|kan iemand|iemand een idee|"
        r"hoe zit het met|hoe gaat dat|graag hulp bij|wie weet)\b",
        {"question": 1.2},
    ),
    "q:opener_en": (
        r"(?:^|[.!?,:]\s*|xbrandx\s+|hey\W{0,3}|hi\W{0,3}|hello\W{0,3}|q\W{0,3})"
        r"(?:how|can i|could i|can you|where|when|what(?:'s| is| time| are)|"
        r"which|do you|does|do i|is it|is there|are there|will|should i|"
        r"anyone know|does anyone|is it possible)\b",
        {"question": 1.6},
    ),
    "q:ask_en": (
        r"\b(?:how (?:do|can|long|much|does|to)|can i|could i|where can i|"
        r"where do i|anyone know|does anyone know|is it possible|quick q|"
        r"what can i do|do you offer|is there a way|what's the|what is the|"
        r"can someone|any idea|can you help|need help with|wondering if|"
        r"what happens|wat gebeurt|what are the|how are the|kan iemand mij)\b",
        {"question": 1.2},
    ),
    "c:rhetorical": (
        r"\b(?:hoe lang nog|waarom duurt|why does it take|why do i (?:have|need) to|"
        r"how long (?:do i|must i|will i) (?:have to )?wait|wat is dit voor|"
        r"is this a joke|zo (?:ontzettend |verschrikkelijk |belachelijk )?lang\b)"
        r"|\?\?",
        {"complaint": 1.8, "question": -1.0},
    ),
    "q:interrogative_start": (
        r"(?:^|[.!?]\s+|xbrandx\s+)(?:hoe|wat|wie|waar|wanneer|welke|hoeveel|kan|"
        r"kun|mag|moet|is|zijn|heeft|hebben|werkt|zit|krijg|wordt|gaat|"
        r"how|what|who|where|when|which|can|could|do|does|is|are|will|should|"
        r"would|may|have)\b",
        {"question": 0.8},
    ),
    "q:why": (r"\b(?:waarom|why)\b", {"question": 0.5, "complaint": 0.4}),
    "q:is_this_real": (
        r"\b(?:is dit echt|echt of nep|is this (?:legit|real|you)|legit\s*\?|"
        r"klopt dat|is dat van jullie|van jullie\s*\?)",
        # Asking whether a message is genuine is a report of a suspicious
        # message, not a service question.
        {"question": -0.6, "phishing": 1.0},
    ),
    # ------------------------------------------------------------------ complaint
    "c:negative_nl": (
        r"\b(?:belachelijk|schandalig|irritant|frustrerend|waardeloos|"
        r"teleurgesteld|teleurstellend|slecht|slechte|ergerlijk|balen|"
        r"niet (?:oke|ok|normaal|acceptabel)|onacceptabel|gênant|genant|"
        r"wat is dit voor|afspraak is afspraak|zo ga je niet|"
        r"hetzelfde liedje|ben het zat|ik ben er klaar mee|ontevreden|"
        r"klantonvriendelijk|onbereikbaar|schande|absurd|boos|"
        r"slechtste|duurt (?:veel te |erg )?lang|ligt (?:er ?uit|plat)|"
        r"weer plat|klacht\w*|kwaad)",
        {"complaint": 1.6},
    ),
    "c:negative_en": (
        r"\b(?:ridiculous|frustrating|frustrated|terrible|awful|horrible|"
        r"unacceptable|disappointed|disappointing|not happy|fed up|annoying|"
        r"so slow|not ok|not okay|a joke|worst service|poor service|"
        r"runaround|every\.? single\.? time|ugh|ruined|sucks|worst|"
        r"unhappy|angry|disgrace|absurd|takes forever|unreachable|"
        r"down again|complaint|can'?t log ?in|cannot log ?in|never again)\b",
        {"complaint": 1.6},
    ),
    "c:still_waiting": (
        r"\b(?:nog steeds (?:niet|geen|niks|niets|niemand)|nog steeds\b.{0,40}"
        r"\bniet|still (?:waiting|nothing|not|no|doesn'?t|don'?t|can'?t|"
        r"isn'?t|won'?t|broken)|nog altijd niet|"
        r"al (?:\d+|een|twee|drie|vier|vijf|zes) (?:dagen|weken|maanden|uur)|"
        r"(?:for|after) (?:\d+|two|three|four|five|six) (?:days|weeks|months|hours"
        r"|minutes)|\d+ (?:weken|dagen|maanden) (?:stil|gewacht)|hoe lang nog|"
        r"weer niks|weer niets|alweer|again\b)",
        {"complaint": 1.3},
    ),
    "c:nobody": (
        r"\b(?:niemand (?:neemt|helpt|belt|reageert)|niks gehoord|niets gehoord|"
        r"geen (?:antwoord|reactie)|nobody (?:called|answers|helps)|no one can|"
        r"can't reach|cannot reach|no response|no reply|niet teruggebeld|"
        r"in de wacht|on hold|opgehangen|doorverbonden|chat ?bot)",
        {"complaint": 1.5},
    ),
    "c:broken": (
        r"\b(?:crasht?|crashes|werkt (?:niet|nog steeds niet)|werkt .{0,25}"
        r"niet meer|doet het niet|stuk\b|kapot|storing|error|foutmelding|"
        r"kan (?:niet|mijn .{0,20}niet) (?:inloggen|betalen|pinnen)|"
        r"kan .{0,30}niet (?:inloggen|betalen|pinnen)|niet inloggen|"
        r"doesn'?t work|not working|fails?\b|failed|broken|logged me out|"
        r"went wrong|keeps (?:saying|crashing|sending|logging)|"
        r"machine ate|ingeslikt|ate my)",
        {"complaint": 1.3, "question": 0.1},
    ),
    "c:money_problem": (
        r"\b(?:dubbel afgeschreven|twee keer afgeschreven|wel afgeschreven|"
        r"geweigerd|declined|charged me|rekenen (?:ineens|zomaar)|"
        r"twice for|double charged|niet aangekomen|bounced|kwijt\b|frozen|"
        r"bevroren|geblokkeerd zonder|without (?:any )?explanation|"
        r"zonder (?:uitleg|aankondiging|dat iemand)|messed up|no receipt|"
        r"terugbetaling\b.{0,20}\bnog)",
        {"complaint": 1.3},
    ),
    "c:negative_broad": (
        r"\b(?:vervelend\w*|pijnlijk|drama|gedoe|zomaar|ineens|hoezo|"
        r"afgewezen|verbroken|kwijtgeraakt|onbeschoft|onvriendelijk|traag|"
        r"trage|niet van deze tijd|loopt (?:steeds )?vast|vastgelopen|"
        r"niemand|nergens|niet eens|klopt niks|boete|wachtrij|wachttijd|"
        r"nodig!|zo erg|ellende|chaos|rampzalig|"
        r"seriously\??|forever|won'?t let me|doesn'?t let me|disconnected|"
        r"overcharged|no cash|nobody|no one|zero replies|locked out|"
        r"stuck|slowest|keep losing|lost my|rude|unhelpful|nightmare|"
        r"how hard can it be|what a mess|incompetent|shame on you|"
        r"that was in|still no|never (?:arrived|came|got))\b",
        {"complaint": 1.1},
    ),
    "c:demand": (
        r"\b(?:doe er iets aan|fix (?:dit|this|it)|los dit op|sort it out|"
        r"do something)\b",
        {"complaint": 1.0},
    ),
    "c:promised": (
        r"\b(?:beloofd|was promised|promised)\b",
        {"complaint": 1.0},
    ),
    "c:my_thing": (
        r"\b(?:mijn|my|ik|i)\b.{0,50}\b(?:rekening|pas|pasje|kaart|card|account|"
        r"overboeking|transfer|betaling|payment|app|login|hypotheekaanvraag|"
        r"klacht|salaris|geld|money|refund|debits?)\b",
        {"complaint": 0.4, "question": 0.3},
    ),
    "c:emo": (r"\b(?:emoangry|emofrustrated)\b", {"complaint": 0.9}),
    "c:eyeroll": (
        r"\bemoeyeroll\b",
        {"complaint": 1.0, "praise": -2.0, "phishing": -0.3},
    ),
    "c:sarcasm": (
        r"\b(?:thanks a lot|thanks for nothing|great,|geweldig,|echt top\b.{0,3}$|"
        r"lekker dan|bedankt voor niks|dank je wel .{0,60}\bnet op)",
        {"complaint": 1.2, "praise": -1.5},
    ),
    "c:wasted_trip": (
        r"\b(?:voor niks|voor niets|for nothing|gesloten zonder)\b",
        {"complaint": 1.2, "praise": -1.0},
    ),
    # ------------------------------------------------------ factual inaccuracy
    "f:hearsay": (
        r"\b(?:wist je dat|heb gehoord|hoorde net|las ik|ik las|las net|"
        r"lees het nieuws|let op|echt waar|check het maar|staat gewoon in|"
        r"heads up|fyi|apparently|rumou?r|just so you know|read the small print|"
        r"everyone knows|it's in their|iedereen weet|psst)\b",
        {"factual_inaccuracy": 1.2},
    ),
    "f:fee_claim": (
        r"(?:\b(?:rekent|rekenen|vraagt|kost|betaal|betalen|charges?|charging)\b"
        r".{0,40}(?:xmoneyx|\d+ ?%)|xmoneyx.{0,12}\b(?:per|voor elke|voor iedere|"
        r"for every|for each|a month|per month|per maand|a year|per keer|each time)"
        r"|\b(?:fee|kosten) for (?:using|every)|"
        r"start(?:s|ing)? charging|gaat .{0,20}rekenen)",
        {"factual_inaccuracy": 2.0, "complaint": 0.2},
    ),
    "f:rate_claim": (
        r"\b(?:spaarrente|rente|interest|savings rate|hypotheekrente|overdraft)\b"
        r".{0,40}(?:-?\d+ ?%|naar nul|to nothing|verlaagd|verhoogd|doubled|"
        r"verdubbeld|cut|geen rente)|geen rente meer",
        {"factual_inaccuracy": 1.8},
    ),
    "f:closure_claim": (
        r"\b(?:sluit|sluiten|gaat .{0,30}sluiten|closing|shutting down|"
        r"close all|opheffen|afschaffen|stopt? met|stopped offering|"
        r"stop all|geen .{0,20}meer|no longer|will close|neemt geen|schrapt|"
        r"scrapp\w*|abolish\w*|wordt opgeheven|gaat stoppen|stopping)\b",
        {"factual_inaccuracy": 1.0},
    ),
    "f:scope_all": (
        r"\b(?:alle|al zijn|al haar|all (?:its|their|customer|customers)|all|"
        r"elke|iedere|every|everyone'?s|nationwide|landelijk|iedereen|anyone)\b",
        {"factual_inaccuracy": 0.5},
    ),
    "f:institution": (
        r"\b(?:kantoren|branches|atms|pinautomaten|klantenservice|"
        r"spaarrekeningen|contant geld|cash|hypotheken|mortgages|"
        r"internationale|international|betaalrekening|basic account|"
        r"(?:mobile )?app\b|accounts)\b",
        {"factual_inaccuracy": 0.3},
    ),
    "f:doom_claim": (
        r"\b(?:failliet|bankrupt|bank ?run|ran out of money|overgenomen|"
        r"taken over|banking licen[cs]e|bankvergunning|ontslagen|laid off|"
        r"haal je geld|withdraw your money|"
        r"depositogarantie\w*|deposit guarantee|niet veilig|isn't protected|"
        r"not protected|niet verzekerd|negatieve rente|negative interest|"
        r"bail-?in|fusie|merger|gaat samen met)\b",
        {"factual_inaccuracy": 2.2},
    ),
    "f:breach_claim": (
        r"\b(?:gehackt|hacked|hack\b|cyberaanval|cyber ?attack|leaked|gelekt|"
        r"leeggehaald|gestolen|stolen)\b.{0,60}"
        r"|\b(?:alle|all|everyone'?s)\b.{0,30}\b(?:rekeningen|pincodes|passwords|"
        r"wachtwoorden|balances|saldo)\b",
        {"factual_inaccuracy": 1.2},
    ),
    "f:data_claim": (
        r"\b(?:verkoopt|verkopen|sells?|selling|stuurt .{0,30}door|"
        r"can see all|kunnen .{0,20}zien)\b.{0,50}\b(?:gegevens|data|locatie|"
        r"location|passwords|wachtwoorden|advertisers|adverteerders|"
        r"belastingdienst)",
        {"factual_inaccuracy": 2.0},
    ),
    "f:policy_claim": (
        r"\b(?:vanaf (?:nu|volgende|januari|februari|maart|april|mei|juni|juli|"
        r"augustus|september|oktober|november|december|1)|per 1|"
        r"from next (?:month|week)|starting (?:today|next|from)|by the end of|"
        r"next month|volgende (?:maand|week)|stiekem|secretly|tegenwoordig|"
        r"now charges|freezes your|blocks all|keeps the money|"
        r"if you don'?t|als je (?:niet|minder))\b",
        {"factual_inaccuracy": 0.9},
    ),
    "f:company_subject": (
        r"(?:^|[.!:]\s*|\b(?:dat|that|apparently|fyi|up:)\s+)"
        r"(?:het |de |the )?(?:oranjebank|xbrandx)(?:'s)?\s+(?:is|heeft|gaat|"
        r"rekent|verkoopt|geeft|neemt|sluit|stopt|will|now|has|was|stopped|"
        r"sells|freezes|blocks|lost|doubled|doesn'?t|verhoogt|verlaagt|"
        r"is (?:now|charging|closing|shutting))\b",
        {"factual_inaccuracy": 0.9, "other": -0.3},
    ),
    "f:generic_you": (
        r"\b(?:(?:vanaf|per) \w+ (?:week |maand )?moet je|moet je (?:nu|vanaf|bij)|"
        r"you (?:now )?have to|you now need|je krijgt geen|you no longer get)\b",
        {"factual_inaccuracy": 1.0},
    ),
    "f:claim_broad": (
        r"\b(?:zonder toestemming|without (?:your )?consent|automatically shares?|"
        r"deelt .{0,20}met de|overgezet naar|gewist|wiped|deleted|worden .{0,30}"
        r"(?:overgezet|opgeheven|gesloten)|look it up|zoek het maar op|"
        r"they say|ze zeggen|people (?:are )?saying|mensen zeggen|"
        r"zegt dat (?:oranjebank|xbrandx)|staat in de (?:nieuwe )?(?:voorwaarden|wet)|"
        r"sinds kort|since last week|as of|vanaf volgend)\b",
        {"factual_inaccuracy": 1.0},
    ),
    "f:asked": (r"\?", {"factual_inaccuracy": -0.4}),
    "f:not_me": (
        r"\b(?:me|mij|mijn|my|ik|i)\b",
        {"factual_inaccuracy": -0.4},
    ),
    # ------------------------------------------------------------------ opinion
    "o:aesthetic_subject": (
        r"\b(?:logo|kleur|kleuren|kleurtjes|colou?r|colou?rs|colou?r scheme|"
        r"huisstijl|lettertype|font|design|reclame|commercial|tv-?spots?|ads?|"
        r"billboard|jingle|muziekje|mascot|mascotte|leeuw|lion|icon|layout|"
        r"redesign|illustrations|interior|gebouw|building|headquarters|"
        r"hoofdkantoor|pasjes|card design|orange|oranje|blauw|blue|groen|green|"
        r"purple|paars|dark mode|look|uitzien|ziet er|slogan|billboards?|"
        r"spaarpot\w*|geluidjes|sounds?|rebrand\w*|campagne|campaign|"
        r"cards?|kaart)\b",
        {"opinion": 0.6},
    ),
    "o:taste_nl": (
        r"\b(?:vind ik|ik vind|vond ik|vond het|mooier|lelijk|lelijker|"
        r"smaak|smaken verschillen|persoonlijk|eerlijk gezegd|mijn ding|"
        r"niet zo'?n fan|fan van|cringe|grappig|strak|saai|saaie|kaal|"
        r"karakter|over de top|beter bij|staat goed|goed gestaan|ik mis|mwah|"
        r"te druk|overzichtelijker|vallen .{0,16}op|past (?:niet|gewoon)|"
        r"gekker|imo|prachtig|beeldig|ouderwets|gedateerd|"
        r"smaakloos|niet mooi|lelijke)\b",
        {"opinion": 1.4},
    ),
    "o:taste_en": (
        r"\b(?:i liked|i like|kinda like|i prefer|prefer the|not a fan|"
        r"i (?:don'?t )?love|in my opinion|imo|if you ask me|personally|"
        r"looks? (?:like|better|generic|cleaner|sleek|nice)|looked better|"
        r"(?:was|were) (?:nicer|better|cuter)|cheesy|creepy|cringe|ugly|"
        r"kinda nice|iconic|favou?rite|catchy|weird|sterile|too busy|"
        r"is it just me|not sure about|not gonna lie|tbh|honestly|meh|"
        r"prettier|nicer|beautiful|outdated|old-fashioned|tasteless|"
        r"hideous|stylish|fresh look)\b",
        {"opinion": 1.4},
    ),
    "o:evaluative": (
        r"\b(?:mooi|mooie|leuk|leuke|leuker|leukere|fel|flauw|saai|lelijk\w*|"
        r"prachtig\w*|geniaal|herkenbaar|kitsch|ordinair|"
        r"adorable|cute|lovely looking|loud|bland|flashy|try-?hard|tacky|"
        r"premium|gorgeous|stylish|ugly|pretty|corporate|soulless|"
        r"repetitive|annoying ad)\b",
        {"opinion": 0.6},
    ),
    "o:taste_broad": (
        r"\b(?:hou (?:niet )?van|never liked|always liked|love the (?:look|design|"
        r"colou?r)|looks so much|hot take|change my mind|zegt me (?:niks|niets)|"
        r"is (?:not )?my style|niet mijn stijl|a bit too|een beetje (?:te )?|"
        r"te (?:vrolijk|fel|druk|saai))\b",
        {"opinion": 1.0},
    ),
    "o:comparison_old": (
        r"\b(?:oude|old|before|vroeger|in the \d0s|new one|de nieuwe)\b",
        {"opinion": 0.4},
    ),
    "o:emo": (r"\b(?:emoshrug|emolaugh)\b", {"opinion": 0.4}),
    # ------------------------------------------------------------------ abuse
    "a:swear_nl": (
        r"\b(?:kanker(?!onderzoek|bestrijding|fonds|patient|zorg)\w*|"
        r"\w*kanker(?:bank|lijers?|zooi|bedrijf|app)|tering\w*|tyfus\w*|"
        r"klootzak\w*|kut\w*|\w+kut\b|klote\w*|godver\w*|flikker op|"
        r"rot (?:toch )?op|hou je bek|houd je bek|ga (?:toch )?dood|"
        r"kkr|kk\b|optyfen|opkankeren|pleur op|pleurt op|opzouten|"
        r"lamlul\w*|hoer\w*|kankerlijers?|tyfuslijers?|val dood|sterf|"
        r"donder op|schaam je kapot|kanker\w+|tyfus\w+)",
        {"abuse": 3.0},
    ),
    "a:insult_nl": (
        r"\b(?:debiel\w*|idioot|idioten|mongool|mongolen|achterlijk\w*|"
        r"sukkel\w*|hufter\w*|eikel\w*|lul\w*|klojo\w*|tuig|graaiers|"
        r"zakkenvullers|hersenloze?|apen|walgelijk volk|randdebiel\w*|"
        r"boeven|dieven|stelletje|oenen|ik haat jullie|dom als|parasieten|"
        r"ratten|boeventuig|maffia|uitvreters|schoften|schorem|prutsers|"
        r"kneuzen|zielige?|amateurs|loopjongens|criminelen|bende)\b",
        {"abuse": 2.2},
    ),
    "a:liars_nl": (
        r"\b(?:oplichters|oplichtersbende|leugenaars)\b",
        {"abuse": 1.6, "phishing": 0.6},
    ),
    "a:you_are_nl": (
        r"\b(?:jullie zijn|zijn jullie|je bent|=)\b.{0,40}\b(?:oplichters|dieven|"
        r"boeven|debielen|idioten|sukkels|dom|tuig|criminelen)",
        {"abuse": 1.8},
    ),
    "a:swear_en": (
        r"\b(?:f[\*u@#]{0,4}c?k\w*|fck\w*|fuk\w*|sh[\*i]t\w*|bastards?|"
        r"scumbags?|screw you|piss off|go to hell|shut up|eat sh|"
        r"bloody|damn you|wtf\b.{0,20}\b(?:idiots|morons)|a[\*s]{2}holes?|"
        r"arseholes?|dickheads?|wankers?|twats?|cunts?|retards?)",
        {"abuse": 3.0},
    ),
    "a:insult_en": (
        r"\b(?:idiots?|morons?|stupid|dumb(?:est)?|imbeciles?|brain ?dead|"
        r"clowns?|losers?|muppets?|crooks?|thieves|thieving|liars|"
        r"greedy (?:pig|bastards|pigs)|pigs?\b|monkeys|clueless|pathetic|"
        r"scammers|criminals|useless idiots|scum|parasites|rats|mafia|"
        r"i hate you|weasels?|snakes|nitwits|halfwits|shitshow|"
        r"brainless|w[\*a]nkers?|f yourselves|disgrace)\b",
        {"abuse": 2.2},
    ),
    "a:useless": (r"\b(?:useless|nutteloos)\b", {"abuse": 0.3, "complaint": 1.2}),
    "a:emo": (r"\b(?:emofinger|emoclown)\b", {"abuse": 1.8}),
    # ------------------------------------------------------------------ praise
    "p:thanks_nl": (
        r"\b(?:bedankt|dank(?:je|u)? ?wel|dank jullie|dankjewel|dank voor|"
        r"dank!|heel erg bedankt|super bedankt|merci)\b|\bdank\s*(?:[!.]|$)",
        {"praise": 2.0},
    ),
    "p:thanks_en": (
        r"\b(?:thanks|thank you|thx|ty\b|cheers|much appreciated|"
        r"appreciate|kudos|shoutout|shout out|props to|credit where)\b",
        {"praise": 2.0},
    ),
    "p:compliment_nl": (
        r"\b(?:compliment\w*|chapeau|hulde|top geholpen|super geholpen|"
        r"goed geholpen|snel geholpen|netjes (?:opgelost|geholpen)|"
        r"fijne service|top service|goede service|aanrader|goed bezig|"
        r"(?:goed|snel|netjes) opgelost|heel vriendelijk|super vriendelijk|"
        r"vriendelijke medewerker|werkt (?:weer|top)|reageert altijd snel|"
        r"eindelijk een bank|toppers?|helden|perfect geholpen|snel en goed|"
        r"heel tevreden|erg tevreden|blij mee|fantastisch|wat fijn|fijn dat|"
        r"blij met|dankbaar|goede hulp|goed geholpen|duidelijk uitgelegd|"
        r"tevreden klant|uit de brand geholpen|meegedacht|dankjulliewel)\b",
        {"praise": 1.8},
    ),
    "p:compliment_en": (
        r"\b(?:awesome|excellent|great (?:service|job|support)|impressed|"
        r"super helpful|so helpful|very helpful|lovely|smooth|problem solved|"
        r"sorted (?:out|my)|saved my|quick help|you guys are|finally a bank|"
        r"well done|amazing|brilliant|fantastic|heroes|very satisfied|"
        r"happy customer|happy with|top notch|made my day|hats off|"
        r"grateful|you (?:guys )?rock|legend|great support|excellent help|"
        r"never looked back|best service|patient and kind)\b",
        {"praise": 1.6},
    ),
    "p:emo": (r"\bemopositive\b", {"praise": 0.7}),
    # ------------------------------------------------------------------ phishing
    "ph:word": (
        r"\b(?:phishing\w*|phising|fishing mail|nep-?\w*|fake|valse?|vals|"
        r"spoof\w*|scam\w*|oplichting|opgelicht|fraude\w*|fraud\w*|"
        r"bankhelpdeskfraude|impersonat\w*|pretending|posing as|"
        r"doen zich voor|namens|uit naam van|looks dodgy|lijkt me nep|"
        r"dodgy|verdacht\w*|suspicious|smishing|vishing|nepwebsite|"
        r"valse website|fake (?:app|website|site)|deed zich voor|"
        r"posed as|claimed to be from|gaf zich uit|doet zich voor|"
        r"zogenaamde?|sketchy|anydesk|teamviewer|mee te kijken|meekijken|"
        r"nummerherkenning|claiming to be|saying he was from|"
        r"saying she was from|compromised|fake version)\b",
        {"phishing": 1.6},
    ),
    "ph:channel": (
        r"\b(?:sms\w*|e-?mail\w*|mail(?:tje|s)?|text(?:ed)?|whatsapp\w*|"
        r"gebeld|belde|belt|bellen|called|calling|call|voicemail|dm'?t?|"
        r"dms|brief|letter|per post|qr ?code|caller id|link)\b",
        {"phishing": 0.5},
    ),
    "ph:bait": (
        r"\b(?:klik op|via de link|met een link|link naar|"
        r"inlogcodes?|inloggegevens|pincode|pin\b|card details|card number|"
        r"login codes?|verification codes?|verificatie\w*|verify|verifieer|"
        r"bevestig|confirm your|confirm my|update (?:my|your) details|"
        r"pas (?:op ?te ?sturen|meegegeven)|send (?:his|her|my|your) (?:debit )?"
        r"card|koerier|courier|veilige rekening|safe account|reactivate|"
        r"activeren|wordt (?:geblokkeerd|afgesloten)|will be (?:suspended|"
        r"blocked|closed)|is locked|geld moest overmaken|log in via|"
        r"cancel a payment|gegevens ingevuld|entered my details|"
        r"call back urgently|betaalverzoek van (?:xmoneyx|1 cent)|"
        r"tikkie van)\b",
        {"phishing": 1.4},
    ),
    "ph:warning": (
        r"\b(?:pas op|let op|warning|beware|psa|scam alert|niet klikken|"
        r"don'?t click|niet op de link|warn people|waarschuw)\b",
        {"phishing": 0.8, "factual_inaccuracy": -0.8},
    ),
    "ph:impostor": (r"\b(?:ximpostorx|xlookalikex)\b", {"phishing": 2.0}),
    "ph:pretend_staff": (
        r"\b(?:die zei dat hij|die zei dat ze|zei dat (?:hij|ze) van|"
        r"'?medewerker'?|employees?|helpdesk|fraud (?:team|department)|"
        r"fraudeafdeling|security'?)\b",
        {"phishing": 0.4},
    ),
    "ph:victim": (
        r"\b(?:geld weg|lost €|lost xmoneyx|got scammed|ben opgelicht|"
        r"wat nu|what now|wat moeten we doen)\b",
        {"phishing": 0.6},
    ),
    # ------------------------------------------------------------------ spam
    "s:money_bait": (
        r"\b(?:verdien\w*|earn\w*|make money|made xmoneyx|verdubbel|"
        r"financieel vrij|passive income|passief inkomen|rijk worden|"
        r"get rich|guaranteed|gegarandeerd|\d+x potential|returns|rendement|"
        r"winst|profit|per dag|a day|/day|per week|daily|per uur|an hour|"
        r"ik help ondernemers|10k|work from home|werk vanuit huis)\b",
        {"spam": 1.2},
    ),
    "s:crypto": (
        r"\b(?:crypto\w*|bitcoin\w*|btc|nfts?|forex|trading (?:bot|course)|"
        r"signal(?:s|en)|token|telegram|referral|airdrop|presale|"
        r"to the moon|hodl|lambo)\b",
        {"spam": 1.3, "factual_inaccuracy": -0.5},
    ),
    "s:call_to_action": (
        r"\b(?:link in (?:mijn )?bio|link bio|dm (?:me|mij|us|voor|for)|"
        r"klik op de link|klik hier|click here|shop now|apply now|join (?:my|our)|"
        r"word nu lid|volg (?:ons|mijn)|follow and|just follow|stap .{0,12}over|"
        r"vraag .{0,20}aan|ask me how|vraag mij hoe|check out my|"
        r"check onze|gebruik mijn|promote your|grow your|like en deel|"
        r"maak kans|bestel nu|order now|visit our|bezoek onze|use code|"
        r"kortingscode|follow back|f4f|vergelijk nu|bestel via|join now|"
        r"retweet to|tag \d+ vrienden|subscribe|abonneer|nu boeken|book now|"
        r"connect wallet|stuur me een dm|send me a dm|claim your)\b",
        {"spam": 1.5},
    ),
    "s:offer": (
        r"\b(?:gratis|free|korting|\d+% off|off all|sale|deals?|te koop|"
        r"goedkope?|goedkoopste|cheap|limited (?:offer|time)|alleen vandaag|"
        r"today only|this week only|winactie|giveaway|win a|winnen|"
        r"offerte|buy 1|no credit check|zonder bkr|geen ervaring|"
        r"no experience|followers|volgers|likes|vitamins|sneakers|"
        r"sunglasses|zonnepanelen|energiecontract|seo|bespaar|voor een prikje|"
        r"discount|giving away|webinar|e-?book|miljonair|millionaire|"
        r"welkomstbonus|bonus|selling|verkoop|cursus|course|vpn|handbags|"
        r"sieraden|cadeaubon|gift card|vakanties|boeken)\b",
        {"spam": 1.2},
    ),
    "s:vice": (
        r"\b(?:casino\w*|free spins|spins|no deposit|zonder storting|gokken|"
        r"afvallen|weight loss|hot singles|dating|viagra|onlyfans|escort)\b",
        {"spam": 1.8},
    ),
    "s:service_ad": (
        r"\b(?:wij (?:bouwen|bieden|leveren|maken|regelen)|we (?:offer|build|"
        r"provide|deliver)|bel ons|call us|vandaag nog|today!)|xmoneyx\s*!",
        {"spam": 1.3},
    ),
    "s:emo": (r"\bemomoney\b", {"spam": 0.9}),
    "s:many_tags": (
        r"#\w+.{0,80}#\w+",
        {"spam": 0.4},
    ),
    # ------------------------------------------------------------------ other
    "x:news": (
        r"\b(?:rt xuserx|jaarverslag|annual report|kwartaalcijfers|"
        r"quarterly results|aandeel|share price|publiceert|publish|names new|"
        r"in de krant|in the news|nieuwe ceo|chief \w+ officer)\b",
        {"other": 1.5, "factual_inaccuracy": -0.8},
    ),
    "x:sponsor": (
        r"\b(?:sponsor\w*|viert|celebrat\w*|jubileum|festival|marathon|"
        r"toernooi|wedstrijd|game tonight|voetbal|football|ek\b|oranje boven)\b",
        {"other": 1.2},
    ),
    "x:personal_life": (
        r"\b(?:op weg naar|heading to|on my way|meeting|vergader\w*|"
        r"werkt (?:sinds|bij)|internship|stage|job offer|hiring|vacature|"
        r"met pensioen|pensioen gegaan|mijn (?:zus|broer|buurman|vriend)|"
        r"my (?:brother|sister|friend|neighbour)|podcast|walking past|"
        r"gefietst|langs de|photo|foto van de|lol$|haha|trein)\b",
        {"other": 1.0},
    ),
    "x:paid_fine": (
        r"\b(?:net (?:mijn )?\w+ betaald|just paid|betaald via|paid for)\b",
        {"other": 0.8, "complaint": -0.3},
    ),
}

# name -> (features that must all have fired, {category: weight})
COMBINATIONS: dict[str, tuple[tuple[str, ...], dict[str, float]]] = {
    "combo:fee+scope": (("f:fee_claim", "f:scope_all"), {"factual_inaccuracy": 1.0}),
    "combo:hearsay+claim": (
        ("f:hearsay", "f:closure_claim"),
        {"factual_inaccuracy": 1.0},
    ),
    "combo:closure+institution": (
        ("f:closure_claim", "f:institution"),
        {"factual_inaccuracy": 1.2},
    ),
    "combo:closure+scope": (
        ("f:closure_claim", "f:scope_all"),
        {"factual_inaccuracy": 0.6},
    ),
    "combo:subject+policy": (
        ("f:company_subject", "f:policy_claim"),
        {"factual_inaccuracy": 1.0},
    ),
    "combo:taste+subject": (
        ("o:aesthetic_subject", "o:taste_nl"),
        {"opinion": 1.4},
    ),
    "combo:evaluative+subject": (
        ("o:aesthetic_subject", "o:evaluative"),
        {"opinion": 1.0},
    ),
    "combo:taste_broad+subject": (
        ("o:aesthetic_subject", "o:taste_broad"),
        {"opinion": 0.8},
    ),
    "combo:taste+subject_en": (
        ("o:aesthetic_subject", "o:taste_en"),
        {"opinion": 1.4},
    ),
    "combo:fake+channel": (("ph:word", "ph:channel"), {"phishing": 1.2}),
    "combo:bait+channel": (("ph:bait", "ph:channel"), {"phishing": 1.0}),
    "combo:fake+staff": (("ph:word", "ph:pretend_staff"), {"phishing": 0.8}),
    "combo:liars+calling": (
        ("a:liars_nl", "ph:channel"),
        {"phishing": 1.5, "abuse": -1.6},
    ),
    "combo:spam_money+cta": (("s:money_bait", "s:call_to_action"), {"spam": 1.0}),
    "combo:spam_offer+cta": (("s:offer", "s:call_to_action"), {"spam": 0.8}),
    # "Thanks, but it still fails" is not praise.
    "combo:thanks+broken": (
        ("p:thanks_en", "c:broken"),
        {"praise": -1.5, "complaint": 0.5},
    ),
    "combo:dank+broken": (
        ("p:thanks_nl", "c:broken"),
        {"praise": -1.5, "complaint": 0.5},
    ),
    "combo:question+problem": (("q:mark", "c:my_thing"), {"question": 0.3}),
}

# Stopwords that occur in one language only (shared words like "is", "in", "was",
# "we", "of" and "me" would only blur the vote).
STOPWORDS_NL = frozenset(
    [
        "de",
        "het",
        "een",
        "en",
        "van",
        "ik",
        "je",
        "jij",
        "jullie",
        "niet",
        "dat",
        "die",
        "wat",
        "op",
        "te",
        "voor",
        "met",
        "mijn",
        "heb",
        "hebben",
        "bij",
        "naar",
        "maar",
        "ook",
        "nog",
        "al",
        "er",
        "zijn",
        "kan",
        "kun",
        "hoe",
        "waar",
        "wanneer",
        "wel",
        "geen",
        "dit",
        "deze",
        "om",
        "uit",
        "aan",
        "door",
        "zo",
        "heel",
        "echt",
        "weer",
        "dan",
        "moet",
        "mij",
        "wij",
        "u",
        "uw",
        "werd",
        "wordt",
        "graag",
        "iemand",
        "niks",
        "niets",
        "wordt",
        "waarom",
        "eigenlijk",
        "gewoon",
        "toch",
        "hij",
        "zij",
        "ze",
        "haar",
        "onze",
        "ons",
        "mag",
        "vind",
        "had",
        "kunnen",
        "zou",
        "moeten",
        "vandaag",
        "morgen",
        "gisteren",
        "weet",
        "allemaal",
        "zonder",
        "klik",
        "hier",
        "geld",
        "makkelijk",
        "vanuit",
        "huis",
        "hoger",
        "nieuwe",
        "oude",
        "mooi",
        "alleen",
        "alles",
        "bedankt",
        "dank",
        "hulp",
        "rekening",
        "betalen",
        "betaald",
        "nu",
        "nooit",
        "altijd",
        "even",
        "eens",
        "omdat",
        "want",
        "toen",
        "terwijl",
        "tegen",
        "tussen",
        "onder",
        "boven",
        "achter",
        "meer",
        "minder",
        "veel",
        "weinig",
        "goed",
        "slecht",
        "jaar",
        "maand",
        "dagen",
        "weken",
        "kantoor",
        "klantenservice",
    ]
)
STOPWORDS_EN = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "i",
        "you",
        "your",
        "not",
        "that",
        "this",
        "what",
        "on",
        "to",
        "for",
        "with",
        "my",
        "have",
        "has",
        "at",
        "but",
        "also",
        "still",
        "are",
        "can",
        "how",
        "where",
        "when",
        "why",
        "do",
        "does",
        "there",
        "it",
        "they",
        "their",
        "them",
        "will",
        "would",
        "just",
        "from",
        "about",
        "no",
        "yes",
        "any",
        "anyone",
        "our",
        "us",
        "he",
        "she",
        "his",
        "her",
        "been",
        "were",
        "should",
        "could",
        "did",
        "didn't",
        "don't",
        "can't",
        "isn't",
        "it's",
        "i'm",
        "you're",
        "what's",
        "today",
        "yesterday",
        "tomorrow",
        "know",
        "all",
        "its",
        "next",
        "month",
        "new",
        "old",
        "off",
        "best",
        "online",
        "nice",
        "actually",
        "kinda",
        "really",
        "very",
        "some",
        "more",
        "than",
        "then",
        "which",
        "who",
        "being",
        "because",
        "after",
        "before",
        "get",
        "got",
        "going",
        "need",
        "want",
        "like",
        "make",
        "made",
        "way",
        "day",
        "thanks",
        "thank",
        "please",
        "pls",
        "lol",
        "fuck",
        "shit",
        "stupid",
        "idiots",
        "people",
        "money",
        "every",
        "only",
        "branch",
        "customer",
        "names",
        "hiring",
        "answers",
    ]
)
