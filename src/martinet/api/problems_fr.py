"""The problems the rules report, in French, for the doors that answer in French: the smsmode door (French
unless the account's language is English) and the web console's French pages.

The services, the domain and the doors' own checks say what is wrong in English (`InvalidParameter(name,
problem)`, the callback URL checks of `martinet.domain.webhooks`); a door that answers in French passes the
problem through `french`. Fixed problems are a table; those carrying a number, a name or a value are patterns; a
callback URL's refused address is composed from parts (`127.0.0.1 is a loopback address`, `localhost means
127.0.0.1: …`) and translated part by part. A problem not known here is returned as it was written
(tests/api/test_legacy_answers.py fails for any literal problem of the rules without its French).
"""

from __future__ import annotations

import re

from martinet.domain.account_rules import NOT_APPROVED
from martinet.domain.lanes import MAX_VALIDITY, MIN_VALIDITY
from martinet.services.accept import SCHEDULED_TOO_EARLY, VALIDITY_OUT_OF_RANGE

#: Problems written the same every time.
_PROBLEMS: dict[str, str] = {
    "missing": "manquant",
    "no valid recipient": "aucun destinataire valide",
    "no contact in the group": "aucun contact dans le groupe",
    "no contact in the groups": "aucun contact dans les groupes",
    "must be 2, 4 or 9": "doit valoir 2, 4 ou 9",
    "must be 1 or 2": "doit valoir 1 ou 2",
    "longer than 40 characters": "plus de 40 caractères",
    "longer than 11 characters": "plus de 11 caractères",
    "more than 300 recipients": "plus de 300 destinataires (utilisez POST)",
    "not allowed with classe_msg=4 (replies come to a short number)": "interdit avec classe_msg=4",
    "only letters and digits, without spaces or accents": "lettres et chiffres uniquement, sans espace ni accent",
    "a phone number cannot be a sender ID": "un numéro de téléphone ne peut pas être un émetteur",
    "not a number": "doit être un nombre",
    VALIDITY_OUT_OF_RANGE: f"doit être compris entre {MIN_VALIDITY} et {MAX_VALIDITY} secondes",
    "expected ddMMyyyy-HH:mm": "format attendu ddMMyyyy-HH:mm",
    "not a valid date": "date invalide",
    SCHEDULED_TOO_EARLY: "antérieure à l'an 2000",
    "empty": "vide",
    "required for marketing sends with emetteur": "obligatoire pour un envoi marketing avec émetteur",
    "voice messages are not open on this platform": "messages vocaux non ouverts sur cette plateforme",
    # The address book (addContact.do, groupe) and CSV campaigns (sendSMSBatch.do).
    "invalid characters": "caractères invalides",
    "not a valid phone number": "numéro de téléphone invalide",
    "expected ddMMyyyy": "format attendu ddMMyyyy",
    "control characters are not allowed": "caractères de contrôle interdits",
    "empty group name": "nom de groupe vide",
    "empty field name {} (write {{ and }} for literal braces)": (
        "nom de champ vide {} (écrire {{ et }} pour une accolade)"
    ),
    "expected a multipart/form-data upload": "envoi multipart/form-data attendu",
    "not a readable multipart upload": "envoi multipart/form-data illisible",
    "the upload was cut short": "envoi interrompu",
    "more than one file": "plus d'un fichier",
    "no row": "aucune ligne",
    "no header": "pas de ligne d'en-tête",
    "a quoted field is not closed": "un champ entre guillemets n'est pas fermé",
    # Sub-accounts, credit transfers and the limits an account's parents set.
    NOT_APPROVED: "émetteur non approuvé pour ce compte",
    "has sub-accounts: delete them first": "a des sous-comptes : supprimez-les d'abord",
    "the giving account itself": "c'est le compte qui donne",
    "the address book is not available": "le carnet d'adresses n'est pas disponible",
    "a campaign read row by row is not previewed": "une campagne lue ligne à ligne n'a pas d'aperçu",
    # Voice messages (sendVoiceMessage.do).
    "a voice message gets no replies": "un message vocal ne reçoit pas de réponse",
    "a voice message is called from the trunk's number, not from a sender": (
        "un message vocal appelle depuis le numéro de la ligne téléphonique, pas depuis un émetteur"
    ),
    "a voice message is sent to numbers (numero), not to groups or files": (
        "un message vocal s'envoie à des numéros (numero), pas à des groupes ni à des fichiers"
    ),
    # Lists (smsList.do, responseList.do).
    "must not be negative": "ne doit pas être négatif",
    "startDate and endDate go together": "startDate et endDate vont ensemble",
    "not with startDate/endDate": "pas avec startDate/endDate",
    # Sub-accounts, their limits, keys and senders (`ResellerService`, `martinet.domain.account_rules`).
    "sender policy: any or approved": "règle des émetteurs : any (tout émetteur) ou approved (approuvés seulement)",
    "a number of sends per second from 0 to 1,000,000 (0 = no cap)": (
        "un nombre d'envois par seconde de 0 à 1 000 000 (0 = sans plafond)"
    ),
    "a positive amount of credits": "un montant de crédits positif",
    "must be a number of sends per second from 0 to 1,000,000 (0 = unlimited)": (
        "doit être un nombre d'envois par seconde de 0 à 1 000 000 (0 = sans limite)"
    ),
    "before from": "avant from",
    "before 9999-12-31": "avant le 9999-12-31",
    "approved or refused": "approved ou refused",
    "in the past": "dans le passé",
    "numeric senders are checked as numbers and need no approval": (
        "un émetteur numérique est vérifié comme un numéro et ne demande pas d'approbation"
    ),
    # Callback URLs (`martinet.domain.webhooks.url_problem`; the addresses they stand for: `_french_address`).
    "URL without a host": "URL sans hôte",
    "a URL cannot hold control characters (line breaks, tabs)": (
        "une URL ne peut contenir de caractère de contrôle (saut de ligne, tabulation)"
    ),
    "invalid URL: Port out of range 0-65535": "URL invalide : port hors de 0 à 65535",
    "invalid URL: Invalid IPv6 URL": "URL invalide : adresse IPv6 mal écrite",
    # A template rendered blank for one recipient (`services.personal_sends.BLANK_RENDERED`, its status's detail).
    "blank once rendered: the fields it names are empty for this contact": (
        "vide une fois rendu : les champs qu'il nomme sont vides pour ce contact"
    ),
}
#: Problems that carry a number (a configured limit), a name or the values allowed.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"longer than (\d+) characters"), r"plus de \1 caractères"),
    (re.compile(r"more than (\d+) recipients"), r"plus de \1 destinataires"),
    (re.compile(r"more than (\d+) bytes"), r"plus de \1 octets"),
    (re.compile(r"more than (\d+) days ahead"), r"plus de \1 jours à l'avance"),
    # The country rules (`martinet.domain.country_rules`): one reason per refused country, joined by "; ".
    (
        re.compile(r"([A-Z]{2}): alphanumeric senders are not delivered, numeric senders only"),
        r"\1 : émetteurs alphanumériques non distribués, émetteurs numériques uniquement",
    ),
    (
        re.compile(r"([A-Z]{2}): alphanumeric senders of at most (\d+) characters"),
        r"\1 : émetteurs alphanumériques de \2 caractères au plus",
    ),
    (
        re.compile(r"([A-Z]{2}): sender ('.*') is not registered with the carriers there"),
        r"\1 : émetteur \2 non enregistré auprès des opérateurs du pays",
    ),
    (re.compile(r"([A-Z]{2}): Unicode messages are not delivered there"), r"\1 : messages Unicode non distribués"),
    (re.compile(r"more than (\d+) parameters"), r"plus de \1 paramètres"),
    (re.compile(r"must be between (\d+) and (\d+)"), r"doit être compris entre \1 et \2"),
    (re.compile(r"expected one of (.+), not ('.*')"), r"attendu : l'une des valeurs \1, pas \2"),
    (
        re.compile(r"unknown lane ('.*') \(otp, notification or marketing\)"),
        r"voie inconnue \1 (otp, notification ou marketing)",
    ),
    (re.compile(r"not a two-letter country code: ('.*')"), r"pas un code pays de deux lettres : \1"),
    (re.compile(r"not an address or CIDR range: ('.*')", re.DOTALL), r"ni une adresse ni une plage CIDR : \1"),
    (
        re.compile(r"not a country code numbers belong to: ('.*') \(ISO 3166 alpha-2, GB, FR…\)"),
        r"pas un code pays auquel appartiennent des numéros : \1 (ISO 3166 alpha-2, GB, FR…)",
    ),
    (re.compile(r"at most (\d+) days after from"), r"au plus \1 jours après from"),
    (re.compile(r"this key may not give lane (\w+)"), r"cette clé ne peut pas donner la voie \1"),
    (re.compile(r"(\S+) is outside the networks of this key"), r"\1 est hors des réseaux de cette clé"),
    (re.compile(r"('.*') is not one of (.+)"), r"\1 n'est pas l'un des champs \2"),
    (re.compile(r"scheme ('.*') refused: only http and https"), r"schéma \1 refusé : http et https seulement"),
    (re.compile(r"invalid host name ('.*')", re.DOTALL), r"nom d'hôte invalide \1"),
    (
        re.compile(r"invalid URL: Port could not be cast to integer value as (.*)", re.DOTALL),
        r"URL invalide : port non numérique \1",
    ),
    (re.compile(r"invalid URL: (.*)", re.DOTALL), r"URL invalide : \1"),
    (re.compile(r"must be one of (.+)"), r"doit être l'une des valeurs \1"),
    (re.compile(r"more than (\d+) rows"), r"plus de \1 lignes"),
    (re.compile(r"more than (\d+) bytes of form fields"), r"plus de \1 octets de champs de formulaire"),
    (re.compile(r"a record longer than (\d+) bytes"), r"une ligne de plus de \1 octets"),
    (re.compile(r"group name longer than (\d+) characters"), r"nom de groupe de plus de \1 caractères"),
    (re.compile(r"unknown group (.*)", re.DOTALL), r"groupe inconnu \1"),
    (re.compile(r"unknown field (.*)", re.DOTALL), r"champ inconnu \1"),
    (
        re.compile(r"unmatched '(.)' at character (\d+) \(write (\S+) for one\)"),
        r"'\1' isolé au caractère \2 (écrire \3 pour un seul)",
    ),
    (re.compile(r"unknown column (.*)", re.DOTALL), r"colonne inconnue \1"),
    (re.compile(r"column (.*) twice", re.DOTALL), r"colonne \1 en double"),
    (re.compile(r"no (\w+) column"), r"pas de colonne \1"),
    (re.compile(r"(\d+) fields for (\d+) columns"), r"\1 champs pour \2 colonnes"),
    (re.compile(r"not valid CSV \((.*)\)", re.DOTALL), r"CSV invalide (\1)"),
    (re.compile(r"(\d+) to (\d+) characters, without spaces"), r"\1 à \2 caractères, sans espace"),
    (re.compile(r"(\d+) to (\d+) characters"), r"\1 à \2 caractères"),
    (re.compile(r"a whole number of credits, (\d+) to (\d+)"), r"un nombre entier de crédits, de \1 à \2"),
    (re.compile(r"lane (\w+) is not allowed for this account"), r"voie \1 non autorisée pour ce compte"),
    (
        re.compile(r"destination country not allowed for this account: (.+)"),
        r"pays de destination non autorisé pour ce compte : \1",
    ),
    (re.compile(r"unknown charset (.*)", re.DOTALL), r"jeu de caractères inconnu \1"),
]


#: A problem of one line of a file (`sendSMSBatch.do`): its number, the column at fault, what is wrong.
_LINE = re.compile(r"line (\d+): (?:(\w+): )?(.*)", re.DOTALL)


def french(problem: str) -> str:
    """`problem` in French, or as it was written when it is not known here."""
    line = _LINE.fullmatch(problem)
    if line is not None:
        number, column, rest = line.groups()
        return f"ligne {number} : " + (f"{column} : " if column else "") + french(rest)
    return _PROBLEMS.get(problem) or _french_address(problem) or _french_pattern(problem)


#: The kinds of address callbacks may not go to (`martinet.domain.webhooks.forbidden_address`), as "une adresse …".
_ADDRESS_KINDS = {
    "unspecified": "non spécifiée",
    "loopback": "de bouclage",
    "link-local": "lien-local",
    "multicast": "de multidiffusion",
    "this-network": "« ce réseau »",
    "private": "privée",
    "shared (carrier-grade NAT)": "partagée (NAT d'opérateur)",
    "IETF protocol assignments": "réservée aux protocoles de l'IETF",
    "documentation": "de documentation",
    "6to4 relay anycast": "anycast des relais 6to4",
    "benchmarking": "de banc d'essai",
    "reserved": "réservée",
    "local-use NAT64": "NAT64 à usage local",
    "discard-only": "de rejet",
    "segment routing": "de routage par segments",
    "unique local": "locale unique",
    "site-local": "site-local",
}
_NAME_MEANS = re.compile(r"(\S+) means (\S+): (.+)", re.DOTALL)
_ADDRESS_IS = re.compile(r"(\S+) is (.+)")
_ADDRESS_CARRIES = re.compile(r"(\S+) carries (\S+) \(([^)]+)\), (.+)")
_A_KIND = re.compile(r"an? (.+?) address(?: \((\S+)\))?")


def _french_address(problem: str) -> str | None:
    """Why a callback URL's host is refused, in French (`127.0.0.1 is a loopback address`, `localhost means
    127.0.0.1: …`, `::ffff:a00:1 carries 10.0.0.1 (IPv4-mapped), a private address`), or None for another problem."""
    if (means := _NAME_MEANS.fullmatch(problem)) is not None:
        reason = _french_address(means[3])
        return None if reason is None else f"{means[1]} désigne {means[2]} : {reason}"
    if (carries := _ADDRESS_CARRIES.fullmatch(problem)) is not None:
        kind = _french_kind(carries[4])
        return None if kind is None else f"{carries[1]} mène à {carries[2]} ({carries[3]}), {kind}"
    if (address := _ADDRESS_IS.fullmatch(problem)) is not None:
        kind = _french_kind(address[2])
        return None if kind is None else f"{address[1]} est {kind}"
    return None


def _french_kind(kind: str) -> str | None:
    """`a private address` → `une adresse privée`, `a documentation address (192.0.2.0/24)` → `une adresse de
    documentation (192.0.2.0/24)`, `not a globally routable address` → `une adresse non routable sur Internet`."""
    if kind == "not a globally routable address":
        return "une adresse non routable sur Internet"
    named = _A_KIND.fullmatch(kind)
    if named is None or named[1] not in _ADDRESS_KINDS:
        return None
    return f"une adresse {_ADDRESS_KINDS[named[1]]}" + (f" ({named[2]})" if named[2] else "")


def _french_pattern(problem: str) -> str:
    if "; " in problem:  # several reasons, one per country: each in French, or the whole as written
        pieces = [_french_pattern(piece) for piece in problem.split("; ")]
        return problem if pieces == problem.split("; ") else " ; ".join(pieces)
    for pattern, french in _PATTERNS:
        if pattern.fullmatch(problem):
            return pattern.sub(french, problem)
    return problem


# The address book's bounds on merges and group names (`martinet.domain.contacts`, `martinet.store.contacts`).
_PROBLEMS["a group name cannot hold ',' (it separates the groups of a list)"] = (
    "un nom de groupe ne peut contenir de virgule (elle sépare les groupes d'une liste)"
)
_PATTERNS += [
    (re.compile(r"more than (\d+) free fields"), r"plus de \1 champs libres"),
    (
        re.compile(r"more than (\d+) free fields once merged: the contact has (\d+), this adds (\d+)"),
        r"plus de \1 champs libres une fois fusionnés : le contact en a \2, en voici \3 de plus",
    ),
]
