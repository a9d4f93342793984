"""Fixed parameters of the demo programme: markets, numbering plans, texts, rates.

Everything here is data, not logic, so the generative model in :mod:`smsanalytics.synth.generate`
reads as formulas and the numbers can be reviewed (and changed) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- markets and numbering ------------------------------------------------------------------
#: Market of a campaign: one campaign row per market, each with its own language, sender id and
#: opt-out footer (a French brand selling in Europe and North America).
MARKETS: tuple[str, ...] = ("fr", "es", "uk", "na")
MARKET_LANGUAGE: dict[str, str] = {"fr": "fr", "es": "es", "uk": "en", "na": "en"}
MARKET_SENDER: dict[str, str] = {"fr": "LUMEN", "es": "LUMEN", "uk": "LUMEN", "na": "38510"}

#: IANA zones used by the demo, in a fixed order (their index is the zone code).
ZONES: tuple[str, ...] = (
    "Europe/Paris",
    "Europe/Brussels",
    "Europe/Zurich",
    "Europe/Madrid",
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Toronto",
    "America/Vancouver",
)


@dataclass(frozen=True)
class Country:
    """A country of the demo: share of contacts, calling code, market and language."""

    code: str
    share: float
    calling_code: str
    market: str
    language: str
    #: Whether its zone can be inferred unambiguously from the number (``timezone`` may be blank
    #: in the export, ``timezone_source = 'number'``).
    zone_from_number: bool


COUNTRIES: tuple[Country, ...] = (
    Country("FR", 0.55, "33", "fr", "fr", True),
    Country("BE", 0.07, "32", "fr", "fr", True),
    Country("CH", 0.05, "41", "fr", "fr", True),
    Country("ES", 0.05, "34", "es", "es", False),  # phonenumbers: Madrid or Canary Islands
    Country("GB", 0.08, "44", "uk", "en", False),  # phonenumbers: London or the Crown dependencies
    Country("US", 0.16, "1", "na", "en", True),
    Country("CA", 0.04, "1", "na", "en", True),
)
COUNTRY_INDEX: dict[str, int] = {c.code: i for i, c in enumerate(COUNTRIES)}


@dataclass(frozen=True)
class NumberRange:
    """Numbers ``+<calling code><prefix><random digits>`` with a national significant number of
    ``nsn_length`` digits, valid per ``phonenumbers`` (checked in the tests), in one zone.

    Prefixes avoid the ranges reserved for fiction (ARCEP 06 39 98, Ofcom 07700 900xxx) and the
    ranges ``phonenumbers`` attributes to other regions (Guernsey, Jersey, Isle of Man).
    """

    country: str
    weight: float  # within the country
    prefixes: tuple[str, ...]
    nsn_length: int
    zone: str
    phone_type: str  # as ``phonenumbers`` classifies it


_FR_MOBILE = tuple(f"6{d}" for d in "01245678") + tuple(f"7{d}" for d in "345678")
_GB_MOBILE = tuple(
    f"7{d}"
    for d in (
        "40 41 42 43 44 46 47 48 49 51 53 54 55 56 57 58 59 71 72 73 74 75 76 77 80 81 84 85 86 "
        "87 88 89 90 92 94 95 96 97 98 99"
    ).split()
)


def _nanp(npas: str) -> tuple[str, ...]:
    return tuple(npas.split())


NUMBER_RANGES: tuple[NumberRange, ...] = (
    NumberRange("FR", 1.0, _FR_MOBILE, 9, "Europe/Paris", "mobile"),
    NumberRange("BE", 1.0, ("46", "47", "48", "49"), 9, "Europe/Brussels", "mobile"),
    NumberRange("CH", 1.0, ("75", "76", "77", "78", "79"), 9, "Europe/Zurich", "mobile"),
    NumberRange("ES", 1.0, ("6", "71", "72", "73", "74"), 9, "Europe/Madrid", "mobile"),
    NumberRange("GB", 1.0, _GB_MOBILE, 10, "Europe/London", "mobile"),
    # United States: area codes whose zone phonenumbers knows unambiguously
    NumberRange("US", 0.30, _nanp("212 646 917"), 10, "America/New_York", "fixed_line_or_mobile"),
    NumberRange("US", 0.12, _nanp("305 786"), 10, "America/New_York", "fixed_line_or_mobile"),
    NumberRange("US", 0.15, _nanp("312 773"), 10, "America/Chicago", "fixed_line_or_mobile"),
    NumberRange("US", 0.05, _nanp("405"), 10, "America/Chicago", "fixed_line_or_mobile"),
    NumberRange("US", 0.10, _nanp("303 720"), 10, "America/Denver", "fixed_line_or_mobile"),
    NumberRange("US", 0.06, _nanp("602"), 10, "America/Phoenix", "fixed_line_or_mobile"),
    NumberRange(
        "US", 0.17, _nanp("213 310 323"), 10, "America/Los_Angeles", "fixed_line_or_mobile"
    ),
    NumberRange("US", 0.05, _nanp("415"), 10, "America/Los_Angeles", "fixed_line_or_mobile"),
    NumberRange("CA", 0.75, _nanp("416 647"), 10, "America/Toronto", "fixed_line_or_mobile"),
    NumberRange("CA", 0.25, _nanp("604"), 10, "America/Vancouver", "fixed_line_or_mobile"),
)

# -- people --------------------------------------------------------------------------------
#: First names by language; a few contain characters outside GSM-7 (ï, ô, í …), which turns a
#: personalised message into UCS-2, as happens in real programmes.
FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "fr": tuple(
        "Camille Léa Manon Chloé Emma Inès Sarah Julie Marie Lucie Anaïs Maëlle Hélène Nathalie "
        "Sophie Élodie Thomas Nicolas Julien Maxime Lucas Hugo Louis Antoine Pierre Mathieu "
        "Romain Loïc Jérôme François Benoît Olivier Karim Yanis Mehdi Sébastien".split()
    ),
    "en": tuple(
        "Olivia Emma Amelia Sophia Isla Grace Chloe Emily Jessica Sarah Hannah Madison Ashley "
        "Megan Lauren Oliver Jack Harry George Noah Liam James William Michael David Daniel "
        "Ethan Ryan Tyler Jacob Matthew Andrew Joshua Zoë Siobhán".split()
    ),
    "es": tuple(
        "Lucía María Sofía Martina Paula Julia Carmen Laura Elena Marta Alba Claudia Hugo "
        "Martín Pablo Daniel Alejandro Javier Carlos David Sergio Jorge Álvaro Adrián".split()
    ),
}

STORES: dict[str, tuple[str, ...]] = {
    "fr": ("Paris Marais", "Lyon", "Bordeaux", "Lille", "Nantes", "Bruxelles", "Genève", "web"),
    "es": ("Madrid", "Barcelona", "web"),
    "uk": ("London Soho", "Manchester", "web"),
    "na": ("New York", "Los Angeles", "Chicago", "Toronto", "web"),
}
ACQUISITION_CHANNELS: tuple[str, ...] = (
    "web",
    "store",
    "qr_code",
    "checkout",
    "event",
    "instagram",
)
ACQUISITION_WEIGHTS: tuple[float, ...] = (0.35, 0.25, 0.12, 0.18, 0.04, 0.06)

# -- campaign kinds ------------------------------------------------------------------------
KINDS: tuple[str, ...] = (
    "promotional",
    "birthday",
    "reminder",
    "welcome",
    "recapture",
    "thank_you",
    "informational",
    "invitation",
)
KIND_INDEX: dict[str, int] = {k: i for i, k in enumerate(KINDS)}

#: Multiplier of a contact's click propensity by message kind (promotional = 1).
KIND_CLICK_MULTIPLIER: dict[str, float] = {
    "promotional": 1.0,
    "birthday": 1.4,
    "reminder": 0.9,
    "welcome": 1.5,
    "recapture": 1.0,
    "thank_you": 0.6,
    "informational": 0.5,
    "invitation": 1.2,
}
#: Probability that a human click leads to an order within hours (only while the contact is
#: alive in the purchase process). Recapture works through its own uplift instead.
KIND_CLICK_CONVERSION: dict[str, float] = {
    "promotional": 0.10,
    "birthday": 0.12,
    "reminder": 0.06,
    "welcome": 0.08,
    "recapture": 0.0,
    "thank_you": 0.0,
    "informational": 0.02,
    "invitation": 0.08,
}
#: Opt-out (STOP) probability per delivered message before the contact's sensitivity and fatigue.
KIND_OPTOUT_HAZARD: dict[str, float] = {
    "promotional": 0.0040,
    "birthday": 0.0010,
    "reminder": 0.0025,
    "welcome": 0.0060,
    "recapture": 0.0050,
    "thank_you": 0.0010,
    "informational": 0.0025,
    "invitation": 0.0020,
}

#: Local send window: messages go out between 08:00 and 20:00 local time (hours 8 … 19), never on a
#: Sunday or a public holiday for French numbers (Code de la consommation / CNIL practice).
ALLOWED_HOURS: tuple[int, int] = (8, 20)

# -- texts --------------------------------------------------------------------------------
FOOTER: dict[str, str] = {
    "fr": "STOP au 36111",
    "es": "Baja: responde STOP",
    "uk": "Reply STOP to opt out",
    "na": "Reply STOP to opt out, HELP for help. Msg&data rates may apply.",
}
#: The link in a message is a tracked short link of this fixed length (``https://lmn.example/`` and
#: a 6-character code).
LINK_LENGTH = 26

#: Templates by kind and market. Broadcast kinds have an ``{offer}`` filled per campaign; variant
#: ``B`` of an A/B test uses ``TEMPLATES_B``.
TEMPLATES: dict[str, dict[str, str]] = {
    "promotional": {
        "fr": "LUMEN: {first_name}, {offer} {link}",
        "es": "LUMEN: {first_name}, {offer} {link}",
        "uk": "LUMEN: {first_name}, {offer} {link}",
        "na": "LUMEN: {first_name}, {offer} {link}",
    },
    "birthday": {
        "fr": "Joyeux anniversaire {first_name} ! LUMEN vous offre -15% toute la semaine : {link}",
        "es": "Feliz cumpleaños {first_name}! LUMEN te regala un 15% toda la semana: {link}",
        "uk": "Happy birthday {first_name}! Enjoy 15% off at LUMEN all week: {link}",
        "na": "Happy birthday {first_name}! Enjoy 15% off at LUMEN all week: {link}",
    },
    "reminder": {
        "fr": "{first_name}, vous avez {points} points fidélité à utiliser avant la fin du mois : {link}",  # noqa: E501
        "es": "{first_name}, tienes {points} puntos por usar antes de fin de mes: {link}",
        "uk": "{first_name}, you have {points} LUMEN points to use before the end of the month: {link}",  # noqa: E501
        "na": "{first_name}, you have {points} LUMEN points to use before the end of the month: {link}",  # noqa: E501
    },
    "welcome": {
        "fr": "Bienvenue chez LUMEN {first_name} ! Votre code -10% : BIENVENUE10 {link}",
        "es": "Bienvenido a LUMEN {first_name}! Tu codigo -10%: HOLA10 {link}",
        "uk": "Welcome to LUMEN {first_name}! Here is 10% off your first order: WELCOME10 {link}",
        "na": "Welcome to LUMEN {first_name}! Here is 10% off your first order: WELCOME10 {link}",
    },
    "recapture": {
        "fr": "{first_name}, vous nous manquez ! -20% avec le code REVIENS jusqu'à dimanche : {link}",  # noqa: E501
        "es": "{first_name}, te echamos de menos! -20% con el codigo VUELVE hasta el domingo: {link}",  # noqa: E501
        "uk": "We miss you {first_name}! Take 20% off with code COMEBACK until Sunday: {link}",
        "na": "We miss you {first_name}! Take 20% off with code COMEBACK until Sunday: {link}",
    },
    "thank_you": {
        "fr": "Merci pour votre commande {first_name} ! Donnez-nous votre avis en 1 minute : {link}",  # noqa: E501
        "es": "Gracias por tu pedido {first_name}! Danos tu opinion en 1 minuto: {link}",
        "uk": "Thanks for your order {first_name}! Tell us how we did in 1 minute: {link}",
        "na": "Thanks for your order {first_name}! Tell us how we did in 1 minute: {link}",
    },
    "informational": {
        "fr": "LUMEN: {offer} Infos et horaires : {link}",
        "es": "LUMEN: {offer} Info y horarios: {link}",
        "uk": "LUMEN: {offer} Details and opening hours: {link}",
        "na": "LUMEN: {offer} Details and store hours: {link}",
    },
    "invitation": {
        "fr": "{first_name}, vous êtes invité(e) à {offer} Réservez votre place : {link}",
        "es": "{first_name}, estas invitado/a a {offer} Reserva tu plaza: {link}",
        "uk": "{first_name}, you are invited to {offer} Save your spot: {link}",
        "na": "{first_name}, you're invited to {offer} Save your spot: {link}",
    },
}
TEMPLATES_B: dict[str, str] = {
    "fr": "{first_name} 🎁 {offer} C'est par ici : {link}",
    "es": "{first_name} 🎁 {offer} Descubrelo aqui: {link}",
    "uk": "{first_name} 🎁 {offer} Shop now: {link}",
    "na": "{first_name} 🎁 {offer} Shop now: {link}",
}

#: Seasonal offers of promotional campaigns by month (1 … 12): (slug, name, fr, es, en).
PROMO_THEMES: dict[int, tuple[tuple[str, str, str, str, str], ...]] = {
    1: (
        (
            "winter-sale",
            "Soldes d'hiver",
            "les soldes d'hiver commencent : jusqu'à -50% !",
            "empiezan las rebajas: hasta -50%!",
            "the winter sale is on: up to 50% off!",
        ),
        (
            "winter-sale-last",
            "Soldes d'hiver, derniers jours",
            "derniers jours des soldes : -60% sur une sélection.",
            "ultimos dias de rebajas: -60% en una seleccion.",
            "last days of the sale: 60% off selected styles.",
        ),
    ),
    2: (
        (
            "valentine",
            "Saint-Valentin",
            "pour la Saint-Valentin, -20% sur les coffrets cadeaux.",
            "San Valentin: -20% en cajas regalo.",
            "Valentine's Day: 20% off gift sets.",
        ),
        (
            "mid-season",
            "Mi-saison",
            "la mi-saison : -30% sur les manteaux.",
            "media temporada: -30% en abrigos.",
            "mid-season: 30% off coats.",
        ),
    ),
    3: (
        (
            "spring-collection",
            "Collection printemps",
            "la collection printemps est arrivée, -15% ce week-end.",
            "llega la coleccion de primavera, -15% este finde.",
            "the spring collection is here, 15% off this weekend.",
        ),
        (
            "spring-days",
            "Jours du printemps",
            "3 jours de printemps : livraison offerte dès 30€.",
            "3 dias de primavera: envio gratis desde 30€.",
            "3 spring days: free delivery over 30€.",
        ),
    ),
    4: (
        (
            "easter",
            "Pâques",
            "pour Pâques, un cadeau offert dès 50€ d'achat.",
            "Semana Santa: regalo por compras desde 50€.",
            "this Easter, a free gift with orders over 50€.",
        ),
        (
            "friends-days",
            "Friends days",
            "les Friends Days : -25% pour vous et un ami.",
            "Friends Days: -25% para ti y un amigo.",
            "Friends Days: 25% off for you and a friend.",
        ),
    ),
    5: (
        (
            "mothers-day",
            "Fête des mères",
            "pour la fête des mères, -20% sur les bijoux.",
            "Dia de la Madre: -20% en joyeria.",
            "Mother's Day: 20% off jewellery.",
        ),
        (
            "bridge-days",
            "Ponts de mai",
            "ponts de mai : -20% sur tout le site.",
            "puente de mayo: -20% en toda la web.",
            "long weekend: 20% off everything online.",
        ),
    ),
    6: (
        (
            "summer-sale",
            "Soldes d'été",
            "les soldes d'été commencent : jusqu'à -50% !",
            "empiezan las rebajas de verano: hasta -50%!",
            "the summer sale is on: up to 50% off!",
        ),
        (
            "fathers-day",
            "Fête des pères",
            "fête des pères : -15% sur l'univers homme.",
            "Dia del Padre: -15% en hombre.",
            "Father's Day: 15% off menswear.",
        ),
    ),
    7: (
        (
            "summer-sale-last",
            "Soldes d'été, derniers jours",
            "derniers jours des soldes : -60% sur une sélection.",
            "ultimos dias de rebajas: -60% en una seleccion.",
            "last days of the sale: 60% off selected styles.",
        ),
        (
            "holiday-kit",
            "Kit vacances",
            "votre kit vacances à -20% jusqu'à dimanche.",
            "tu kit de vacaciones a -20% hasta el domingo.",
            "your holiday kit at 20% off until Sunday.",
        ),
    ),
    8: (
        (
            "late-summer",
            "Fin d'été",
            "fin d'été : -30% sur les maillots.",
            "fin del verano: -30% en banadores.",
            "end of summer: 30% off swimwear.",
        ),
        (
            "back-to-school-early",
            "Rentrée en avance",
            "préparez la rentrée : -15% sur les sacs.",
            "vuelta al cole: -15% en bolsos.",
            "back to school: 15% off bags.",
        ),
    ),
    9: (
        (
            "back-to-school",
            "Rentrée",
            "c'est la rentrée : -20% sur la nouvelle collection.",
            "vuelta al cole: -20% en la nueva coleccion.",
            "new season: 20% off the new collection.",
        ),
        (
            "autumn-collection",
            "Collection automne",
            "la collection automne est en ligne.",
            "la coleccion de otono ya esta online.",
            "the autumn collection is online.",
        ),
    ),
    10: (
        (
            "autumn-days",
            "Journées d'automne",
            "journées d'automne : -25% sur les pulls.",
            "dias de otono: -25% en jerseis.",
            "autumn days: 25% off knitwear.",
        ),
        (
            "halloween",
            "Halloween",
            "Halloween : un bonbon, un code : BOO15 pour -15%.",
            "Halloween: codigo BOO15 para -15%.",
            "Halloween: code BOO15 for 15% off.",
        ),
    ),
    11: (
        (
            "singles-day",
            "Singles day",
            "11.11 : -11% sur tout le site, aujourd'hui seulement.",
            "11.11: -11% en toda la web, solo hoy.",
            "11.11: 11% off everything, today only.",
        ),
        (
            "black-friday",
            "Black Friday",
            "Black Friday : -30% sur tout, jusqu'à lundi !",
            "Black Friday: -30% en todo hasta el lunes!",
            "Black Friday: 30% off everything until Monday!",
        ),
    ),
    12: (
        (
            "christmas-gifts",
            "Cadeaux de Noël",
            "vos cadeaux de Noël livrés à temps, -15% avec NOEL15.",
            "regalos de Navidad a tiempo, -15% con NAVIDAD15.",
            "Christmas gifts delivered on time, 15% off with XMAS15.",
        ),
        (
            "last-minute",
            "Cadeaux de dernière minute",
            "cadeaux de dernière minute : retrait en boutique en 2h.",
            "regalos de ultima hora: recogida en tienda en 2h.",
            "last-minute gifts: click & collect in 2 hours.",
        ),
    ),
}
INFO_THEMES: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "holiday-hours",
        "Horaires des fêtes",
        "nos boutiques sont ouvertes le dimanche 21 décembre.",
        "nuestras tiendas abren el domingo 21 de diciembre.",
        "our stores open on Sunday 21 December.",
    ),
    (
        "new-store",
        "Nouvelle boutique",
        "une nouvelle boutique ouvre ses portes samedi.",
        "abrimos una nueva tienda el sabado.",
        "a new store opens its doors on Saturday.",
    ),
    (
        "app-launch",
        "Nouvelle appli",
        "notre nouvelle appli est disponible.",
        "ya esta disponible nuestra nueva app.",
        "our new app is out.",
    ),
    (
        "summer-hours",
        "Horaires d'été",
        "nos horaires d'été changent à partir de lundi.",
        "cambiamos el horario de verano a partir del lunes.",
        "our summer opening hours change from Monday.",
    ),
)
INVITATION_THEMES: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "vip-private-sale",
        "Vente privée VIP",
        "notre vente privée VIP jeudi dès 18h.",
        "nuestra venta privada VIP el jueves desde las 18h.",
        "our VIP private sale on Thursday from 6pm.",
    ),
    (
        "collection-preview",
        "Avant-première collection",
        "l'avant-première de la nouvelle collection.",
        "la presentacion de la nueva coleccion.",
        "the preview of our new collection.",
    ),
    (
        "workshop",
        "Atelier",
        "un atelier stylisme samedi en boutique.",
        "un taller de estilismo el sabado en tienda.",
        "a styling workshop in store on Saturday.",
    ),
    (
        "anniversary-party",
        "Anniversaire LUMEN",
        "la soirée des 10 ans de LUMEN.",
        "la fiesta de los 10 anos de LUMEN.",
        "LUMEN's 10th birthday party.",
    ),
)

# -- replies -------------------------------------------------------------------------------
STOP_REPLIES: dict[str, tuple[tuple[str, float], ...]] = {
    "fr": (
        ("STOP", 0.55),
        ("stop", 0.18),
        ("Stop ", 0.10),
        ("STOP au 36111", 0.07),
        ("ARRET", 0.06),
        (" STOP", 0.04),
    ),
    "es": (("STOP", 0.70), ("stop", 0.20), ("Stop ", 0.10)),
    "uk": (
        ("STOP", 0.60),
        ("stop", 0.18),
        ("Stop ", 0.08),
        ("UNSUBSCRIBE", 0.10),
        ("Unsubscribe", 0.04),
    ),
    "na": (
        ("STOP", 0.60),
        ("stop", 0.18),
        ("Stop ", 0.08),
        ("UNSUBSCRIBE", 0.10),
        ("Unsubscribe", 0.04),
    ),
}
HELP_REPLIES: tuple[str, ...] = ("HELP", "help", "Help ")
FREE_REPLIES: dict[str, tuple[str, ...]] = {
    "fr": (
        "Merci",
        "Merci beaucoup !",
        "C'est valable en boutique ?",
        "Qui êtes-vous ?",
        "Ok",
        "👍",
        "Le code ne marche pas",
        "Vous êtes ouverts dimanche ?",
    ),
    "es": ("Gracias", "¿Vale en tienda?", "Ok", "👍", "El codigo no funciona"),
    "uk": ("Thanks", "Is this valid in store?", "Who is this?", "ok", "👍", "Code doesn't work"),
    "na": ("Thanks", "Is this valid in store?", "Who is this?", "ok", "👍", "Code doesn't work"),
}

# -- clicks ---------------------------------------------------------------------------------
HUMAN_USER_AGENTS: dict[str, tuple[str, ...]] = {
    "ios": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",  # noqa: E501
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",  # noqa: E501
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.134 Mobile/15E148 Safari/604.1",  # noqa: E501
    ),
    "android": (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36",  # noqa: E501
        "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",  # noqa: E501
        "Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.104 Mobile Safari/537.36",  # noqa: E501
    ),
}
#: Link-preview fetchers (a bot click within seconds of delivery), with their shares.
BOT_USER_AGENTS: tuple[tuple[str, float], ...] = (
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 0.32),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",  # noqa: E501
        0.24,
    ),
    ("WhatsApp/2.23.20.0", 0.20),
    ("Twitterbot/1.0", 0.09),
    ("TelegramBot (like TwitterBot)", 0.09),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 0.06),
)

# -- delivery -------------------------------------------------------------------------------
#: Final delivery statuses and Twilio-style error codes: (status, error_code).
FAILURES: tuple[tuple[str, str], ...] = (
    ("undelivered", "30003"),  # unreachable destination handset
    ("undelivered", "30005"),  # unknown destination handset
    ("undelivered", "30006"),  # landline or unreachable carrier
    ("undelivered", "30007"),  # carrier filtering (spam)
    ("failed", "30008"),  # unknown error
)
