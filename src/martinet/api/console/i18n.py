"""The console's words in French and English, chosen by the account's language (by the browser's before sign-in).

The catalogue is a dictionary of English phrase → French phrase, looked up by the templates' `t()`: a few hundred
short phrases in one file need no message-compilation step (gettext's .po/.mo files, Babel's extraction), and a
phrase missing from it shows in English rather than failing. Status descriptions come from the domain
(`martinet.domain.status.describe`), as the APIs give them.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("fr", "en")

FRENCH: dict[str, str] = {
    "Dashboard": "Tableau de bord",
    "Send": "Envoyer",
    "History": "Historique",
    "Replies": "Réponses",
    "Opt-outs": "Désinscriptions",
    "API keys": "Clés d'API",
    "Callbacks": "Notifications",
    "Contacts & groups": "Contacts et groupes",
    "Sub-accounts & ledger": "Sous-comptes et écritures",
    "Operator": "Opérateur",
    "Connectors": "Connecteurs",
    "Queues": "Files d'attente",
    "Engines": "Moteurs",
    "Routes": "Routes",
    "Accounts": "Comptes",
    "Sign out": "Se déconnecter",
    "Sign in": "Se connecter",
    "Login": "Identifiant",
    "Password": "Mot de passe",
    "Wrong login or password.": "Identifiant ou mot de passe incorrect.",
    "Too many failed attempts; try again in %s s.": "Trop d'essais manqués ; réessayez dans %s s.",
    "The form expired; please try again.": "Le formulaire a expiré ; veuillez réessayer.",
    "This sign-in link is invalid, expired or already used.": "Ce lien de connexion est invalide, expiré ou déjà utilisé.",  # noqa: E501
    "Sign in with this one-time link": "Se connecter avec ce lien à usage unique",
    "Balance": "Solde",
    "credits": "crédits",
    "Today": "Aujourd'hui",
    "7 days": "7 jours",
    "30 days": "30 jours",
    "Messages": "Messages",
    "Delivery rate": "Taux de remise",
    "Median time to delivery": "Délai médian de remise",
    "Default lane": "Voie par défaut",
    "Lanes": "Voies",
    "Last 24 hours, per hour": "Dernières 24 heures, par heure",
    "Last 30 days, per day": "30 derniers jours, par jour",
    "delivered": "remis",
    "pending": "en cours",
    "failed": "échoués",
    "State": "État",
    "Recipients": "Destinataires",
    "One number per line, or separated by commas.": "Un numéro par ligne, ou séparés par des virgules.",
    "Sender": "Émetteur",
    "optional": "facultatif",
    "Text": "Texte",
    "Schedule": "Programmer",
    "leave empty to send now": "laisser vide pour envoyer maintenant",
    "Lane": "Voie",
    "Characters": "Caractères",
    "Encoding": "Encodage",
    "Parts": "SMS",
    "Units": "Unités",
    "Price": "Prix",
    "Characters outside the GSM alphabet (they make the text Unicode):": "Caractères hors de l'alphabet GSM (ils rendent le texte Unicode) :",  # noqa: E501
    "The opt-out mention will be added:": "La mention de désinscription sera ajoutée :",
    "for %s valid recipient(s)": "pour %s destinataire(s) valide(s)",
    "Send now": "Envoyer",
    "Sent": "Envoyé",
    "Send %s": "Envoi %s",
    "Accepted": "Accepté",
    "Scheduled for": "Programmé pour",
    "Cost": "Coût",
    "Cancel this scheduled send": "Annuler cet envoi programmé",
    "The scheduled send is cancelled and refunded.": "L'envoi programmé est annulé et remboursé.",
    "Nothing left to cancel.": "Plus rien à annuler.",
    "Recipient": "Destinataire",
    "Status": "Statut",
    "Timeline": "Chronologie",
    "Carrier": "Connecteur",
    "Updated": "Mis à jour",
    "No such send.": "Envoi introuvable.",
    "Page not found.": "Page introuvable.",
    "From": "Du",
    "To": "Au",
    "Reference": "Référence",
    "any": "tous",
    "Filter": "Filtrer",
    "Export CSV": "Exporter en CSV",
    "Newer": "Plus récents",
    "Older": "Plus anciens",
    "No message.": "Aucun message.",
    "Recent sends": "Envois récents",
    "Messages matching": "Messages correspondants",
    "Received": "Reçu",
    "Number": "Numéro",
    "Answers": "Répond à",
    "No reply yet.": "Aucune réponse pour l'instant.",
    "Numbers that asked to stop receiving your marketing messages.": "Numéros qui ont demandé à ne plus recevoir vos messages marketing.",  # noqa: E501
    "Add": "Ajouter",
    "Remove": "Retirer",
    "Since": "Depuis",
    "Source": "Origine",
    "No opt-out.": "Aucune désinscription.",
    "Label": "Libellé",
    "Created": "Créée",
    "Revoked": "Révoquée",
    "live": "active",
    "Revoke": "Révoquer",
    "Create a key": "Créer une clé",
    "Lanes allowed": "Voies permises",
    "Networks allowed": "Réseaux permis",
    "all": "toutes",
    "Your new key, shown only this once:": "Votre nouvelle clé, affichée cette seule fois :",
    "The key is revoked.": "La clé est révoquée.",
    "URL": "URL",
    "Attempts": "Essais",
    "Last answer": "Dernière réponse",
    "Replay": "Rejouer",
    "Replay every failed callback": "Rejouer toutes les notifications échouées",
    "%s callback(s) queued again.": "%s notification(s) remise(s) en file.",
    "No callback.": "Aucune notification.",
    "dead letters": "abandonnées",
    "Bound": "Connecté",
    "up": "connecté",
    "down": "déconnecté",
    "Throughput (parts/s)": "Débit (SMS/s)",
    "limit": "limite",
    "none": "aucune",
    "Window": "Fenêtre",
    "Breaker": "Disjoncteur",
    "Parts by answer": "SMS par réponse",
    "Receipt latency": "Délai des accusés",
    "Kept receipts": "Accusés en attente",
    "Type": "Type",
    "Node": "Nœud",
    "Started": "Démarré",
    "Last heartbeat": "Dernier signe de vie",
    "Queued": "En file",
    "Scheduled": "Programmés",
    "Submitting": "En soumission",
    "Account": "Compte",
    "Explain this number": "Expliquer ce numéro",
    "Explain": "Expliquer",
    "Route": "Route",
    "default connectors": "connecteurs par défaut",
    "Skipped": "Écartées",
    "Tried in this order": "Essayés dans cet ordre",
    "Operator (network)": "Opérateur (réseau)",
    "Create an account": "Créer un compte",
    "Opening credits": "Crédits d'ouverture",
    "Language": "Langue",
    "Test mode": "Mode test",
    "Rate limit (sends/s)": "Limite (envois/s)",
    "default": "défaut",
    "Top up": "Créditer",
    "Save": "Enregistrer",
    "Sign-in link": "Lien de connexion",
    "One-time sign-in link for %s:": "Lien de connexion à usage unique pour %s :",
    "Account %s created.": "Compte %s créé.",
    "Saved.": "Enregistré.",
    "Amount": "Montant",
    "yes": "oui",
    "no": "non",
    "Callbacks outbox": "Notifications en attente",
    "Live": "Actif",
    "silent": "muet",
    "Coming soon": "Bientôt",
    "The page refreshes by itself.": "La page se met à jour d'elle-même.",
    "Readiness": "Disponibilité",
    "ready": "prêt",
    "not ready": "pas prêt",
}


def translator(language: str) -> Callable[..., str]:
    """`t(phrase, *values)`: the phrase in `language`, with `%s` replaced by the values in order."""
    table = FRENCH if language == "fr" else {}

    def t(phrase: str, *values: object) -> str:
        text = table.get(phrase, phrase)
        return text % values if values else text

    return t


def browser_language(accept_language: str) -> str:
    """The first of our languages the browser asks for (`Accept-Language`), French otherwise."""
    for item in accept_language.split(","):
        tag = item.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "fr"
