"""Case conversions, plurals and singulars as the Rust crate Inflector 0.11.4
does them (handlebars_misc_helpers 0.13, hence Pegasus 1.4, uses it).

The rules, in our words: a word starts after any character that is not a
letter or digit, at an uppercase letter that follows a lowercase one, and,
for the snake-like cases, at an uppercase letter beside a lowercase one.
Characters that are not letters or digits at the end are dropped. Like the
crate, only ASCII letters change case. Plurals and singulars follow its
list of regular expressions, tried from the last; a match returns only the
last word it matched ("Hello foo-bars" becomes "bar").
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterator, Tuple

_NUMERIC = ("Nd", "Nl", "No")


def _is_numeric(char: str) -> bool:
    return unicodedata.category(char) in _NUMERIC


def _is_alphanumeric(char: str) -> bool:
    return char.isalpha() or _is_numeric(char)


def _ascii_lower(char: str) -> str:
    return char.lower() if char.isascii() else char


def _ascii_upper(char: str) -> str:
    return char.upper() if char.isascii() else char


def _trim_end(text: str) -> str:
    end = len(text)
    while end and not _is_alphanumeric(text[end - 1]):
        end -= 1
    return text[:end]


def _byte_offsets(text: str) -> Iterator[Tuple[int, str]]:
    offset = 0
    for char in text:
        yield offset, char
        offset += len(char.encode("utf-8", "surrogatepass"))


def _char_at(text: str, index: int) -> str:
    # The crate looks neighbours up by character count with a byte offset:
    # the same for ASCII; for other text we do as it does.
    return text[index] if 0 <= index < len(text) else "A"


def _snake_like(text: str, separator: str, upper: bool) -> str:
    change = _ascii_upper if upper else _ascii_lower
    result = []
    first = True
    for index, char in _byte_offsets(_trim_end(text)):
        if not _is_alphanumeric(char):
            if not first:
                first = True
                result.append(separator)
        elif (not first and char == _ascii_upper(char)
              and (_char_at(text, index + 1).islower() or _char_at(text, index - 1).islower())):
            result.append(separator + change(char))
        else:
            first = False
            result.append(change(char))
    return "".join(result)


def _camel_like(text: str, new_word: bool, first_word: bool, injected: str,
                separated: bool, inverted: bool) -> str:
    last = " "
    found = False
    result = []
    for char in _trim_end(text):
        if not _is_alphanumeric(char) and found:
            new_word = True
        elif not found and not _is_alphanumeric(char):
            continue
        elif _is_numeric(char):
            found = new_word = True
            result.append(char)
        elif new_word or (last.islower() and char.isupper()):
            found = True
            new_word = False
            if separated and not first_word:
                result.append(injected)
            result.append(_ascii_upper(char) if not inverted or first_word
                          else _ascii_lower(char))
            first_word = False
        else:
            found = True
            last = char
            result.append(_ascii_lower(char))
    return "".join(result)


def to_snake_case(text: str) -> str:
    return _snake_like(text, "_", upper=False)


def to_screaming_snake_case(text: str) -> str:
    return _snake_like(text, "_", upper=True)


def to_kebab_case(text: str) -> str:
    return _snake_like(text, "-", upper=False)


def to_camel_case(text: str) -> str:
    return _camel_like(text, False, False, " ", False, False)


def to_pascal_case(text: str) -> str:
    return _camel_like(text, True, False, " ", False, False)


def to_train_case(text: str) -> str:
    return _camel_like(text, True, True, "-", True, False)


def to_title_case(text: str) -> str:
    return _camel_like(text, True, True, " ", True, False)


def to_sentence_case(text: str) -> str:
    return _camel_like(text, True, True, " ", True, True)


def to_class_case(text: str) -> str:
    pascal = to_pascal_case(text)
    split = max((index for index, char in enumerate(pascal) if char.isupper()), default=0)
    return pascal[:split] + to_singular(pascal[split:])


def to_table_case(text: str) -> str:
    snake = to_snake_case(text)
    split = max(snake.rfind("_"), 0)
    return snake[:split] + to_plural(snake[split:])


# -- plurals and singulars -------------------------------------------------------------

UNCOUNTABLE = frozenset("""
accommodation adulthood advertising advice aggression aid air aircraft alcohol anger applause
arithmetic assistance athletics bacon baggage beef biology blood botany bread butter carbon
cardboard cash chalk chaos chess crossroads countryside dancing deer dignity dirt dust
economics education electricity engineering enjoyment envy equipment ethics evidence
evolution fame fiction flour flu food fuel fun furniture gallows garbage garlic genetics gold
golf gossip grammar gratitude grief guilt gymnastics happiness hardware harm hate hatred
health heat help homework honesty honey hospitality housework humour hunger hydrogen ice
importance inflation information innocence iron irony jam jewelry judo karate knowledge lack
laughter lava leather leisure lightning linguine linguini linguistics literature litter
livestock logic loneliness luck luggage macaroni machinery magic management mankind marble
mathematics mayonnaise measles methane milk money mud music mumps nature news nitrogen
nonsense nurture nutrition obedience obesity oxygen pasta patience physics poetry pollution
poverty pride psychology publicity punctuation quartz racism relaxation reliability research
respect revenge rice rubbish rum safety scenery seafood seaside series shame sheep shopping
sleep smoke smoking snow soap software soil spaghetti species steam stuff stupidity sunshine
symmetry tennis thirst thunder timber traffic transportation trust underwear unemployment
unity validity veal vegetation vegetarianism vengeance violence vitality warmth wealth
weather welfare wheat wildlife wisdom yoga zinc zoology
""".split())

_PLURAL_SPECIAL = {"ox": "oxen", "man": "men", "woman": "women", "die": "dice", "yes": "yeses",
                   "foot": "feet", "eave": "eaves", "goose": "geese", "tooth": "teeth",
                   "quiz": "quizzes"}
_SINGULAR_SPECIAL = dict((plural, singular) for singular, plural in _PLURAL_SPECIAL.items())
_SINGULAR_SPECIAL["boxes"] = "box"

# (pattern, ending) in the crate's order; the last that matches wins.
_PLURAL_RULES = [(re.compile(pattern), ending) for pattern, ending in [
    (r"(\w*)s$", "s"),
    (r"(\w*([^aeiou]ese))$", ""),
    (r"(\w*(ax|test))is$", "es"),
    (r"(\w*(alias|[^aou]us|tlas|gas|ris))$", "es"),
    (r"(\w*(e[mn]u))s?$", "s"),
    (r"(\w*([^l]ias|[aeiou]las|[emjzr]as|[iu]am))$", ""),
    (r"(\w*(alumn|syllab|octop|vir|radi|nucle|fung|cact|stimul|termin|bacill|foc|uter|loc|"
     r"strat))(?:us|i)$", "i"),
    (r"(\w*(alumn|alg|vertebr))(?:a|ae)$", "ae"),
    (r"(\w*(seraph|cherub))(?:im)?$", "im"),
    (r"(\w*(her|at|gr))o$", "oes"),
    (r"(\w*(agend|addend|millenni|dat|extrem|bacteri|desiderat|strat|candelabr|errat|ov|"
     r"symposi|curricul|automat|quor))(?:a|um)$", "a"),
    (r"(\w*(apheli|hyperbat|periheli|asyndet|noumen|phenomen|criteri|organ|prolegomen|hedr|"
     r"automat))(?:a|on)$", "a"),
    (r"(\w*)sis$", "ses"),
    (r"(\w*(kni|wi|li))fe$", "ves"),
    (r"(\w*(ar|l|ea|eo|oa|hoo))f$", "ves"),
    (r"(\w*([^aeiouy]|qu))y$", "ies"),
    (r"(\w*([^ch][ieo][ln]))ey$", "ies"),
    (r"(\w*(x|ch|ss|sh|zz)es)$", ""),
    (r"(\w*(x|ch|ss|sh|zz))$", "es"),
    (r"(\w*(matr|cod|mur|sil|vert|ind|append))(?:ix|ex)$", "ices"),
    (r"(\w*(m|l)(?:ice|ouse))$", "ice"),
    (r"(\w*(pe)(?:rson|ople))$", "ople"),
    (r"(\w*(child))(?:ren)?$", "ren"),
    (r"(\w*eaux)$", ""),
]][::-1]

# The singular endings may name the second group, as $2.
_SINGULAR_RULES = [(re.compile(pattern), ending) for pattern, ending in [
    (r"(\w*)s$", ""),
    (r"(\w*)(ss)$", "$2"),
    (r"(n)ews$", "ews"),
    (r"(\w*)(o)es$", ""),
    (r"(\w*)([ti])a$", "um"),
    (r"((a)naly|(b)a|(d)iagno|(p)arenthe|(p)rogno|(s)ynop|(t)he)(sis|ses)$", "sis"),
    (r"(^analy)(sis|ses)$", "sis"),
    (r"(\w*)([^f])ves$", "fe"),
    (r"(\w*)(hive)s$", ""),
    (r"(\w*)(tive)s$", ""),
    (r"(\w*)([lr])ves$", "f"),
    (r"(\w*([^aeiouy]|qu))ies$", "y"),
    (r"(s)eries$", "eries"),
    (r"(m)ovies$", "ovie"),
    (r"(\w*)(x|ch|ss|sh)es$", "$2"),
    (r"(m|l)ice$", "ouse"),
    (r"(bus)(es)?$", ""),
    (r"(shoe)s$", ""),
    (r"(cris|test)(is|es)$", "is"),
    (r"^(a)x[ie]s$", "xis"),
    (r"(octop|vir)(us|i)$", "us"),
    (r"(alias|status)(es)?$", ""),
    (r"^(ox)en", ""),
    (r"(vert|ind)ices$", "ex"),
    (r"(matr)ices$", "ix"),
    (r"(quiz)zes$", ""),
    (r"(database)s$", ""),
]][::-1]


def to_plural(text: str) -> str:
    if text in UNCOUNTABLE:
        return text
    if text in _PLURAL_SPECIAL:
        return _PLURAL_SPECIAL[text]
    for pattern, ending in _PLURAL_RULES:
        match = pattern.search(text)
        if match:
            return match.group(1) + ending
    return text + "s"


def to_singular(text: str) -> str:
    if text in UNCOUNTABLE:
        return text
    if text in _SINGULAR_SPECIAL:
        return _SINGULAR_SPECIAL[text]
    for pattern, ending in _SINGULAR_RULES:
        match = pattern.search(text)
        if match:
            second = match.group(2) if pattern.groups >= 2 else None
            return match.group(1) + ending.replace("$2", second or "")
    return text
