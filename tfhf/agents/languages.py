"""Plain-English language names -> NLLB-200 (FLORES-200) codes, for the ``translator`` tool.

The names are those transformers' original translation tool accepted (the agent is told to
write languages "in plain English, such as 'Romanian'"), plus common short forms ("Arabic",
"Chinese", "Persian", "Norwegian", "Albanian"...). Matching ignores case, spaces around the name
and accents; an NLLB code itself ("fra_Latn") is accepted too. :func:`language_code` raises a
clear error naming close matches for anything else.
"""

from __future__ import annotations

import difflib
import unicodedata

from ..errors import InvalidInputError

# code: names (the first is the canonical one); codes are the NLLB tokenizer's 202
_TABLE = """
ace_Arab: Acehnese Arabic
ace_Latn: Acehnese Latin | Acehnese
acm_Arab: Mesopotamian Arabic | Iraqi Arabic
acq_Arab: Ta'izzi-Adeni Arabic
aeb_Arab: Tunisian Arabic
afr_Latn: Afrikaans
ajp_Arab: South Levantine Arabic
aka_Latn: Akan
amh_Ethi: Amharic
apc_Arab: North Levantine Arabic
arb_Arab: Modern Standard Arabic | Arabic | Standard Arabic
ars_Arab: Najdi Arabic
ary_Arab: Moroccan Arabic
arz_Arab: Egyptian Arabic
asm_Beng: Assamese
ast_Latn: Asturian
awa_Deva: Awadhi
ayr_Latn: Central Aymara | Aymara
azb_Arab: South Azerbaijani
azj_Latn: North Azerbaijani | Azerbaijani | Azeri
bak_Cyrl: Bashkir
bam_Latn: Bambara
ban_Latn: Balinese
bel_Cyrl: Belarusian
bem_Latn: Bemba
ben_Beng: Bengali | Bangla
bho_Deva: Bhojpuri
bjn_Arab: Banjar Arabic
bjn_Latn: Banjar Latin | Banjar
bod_Tibt: Standard Tibetan | Tibetan
bos_Latn: Bosnian
bug_Latn: Buginese
bul_Cyrl: Bulgarian
cat_Latn: Catalan
ceb_Latn: Cebuano
ces_Latn: Czech
cjk_Latn: Chokwe
ckb_Arab: Central Kurdish | Sorani
crh_Latn: Crimean Tatar
cym_Latn: Welsh
dan_Latn: Danish
deu_Latn: German
dik_Latn: Southwestern Dinka | Dinka
dyu_Latn: Dyula
dzo_Tibt: Dzongkha
ell_Grek: Greek
eng_Latn: English
epo_Latn: Esperanto
est_Latn: Estonian
eus_Latn: Basque
ewe_Latn: Ewe
fao_Latn: Faroese
pes_Arab: Western Persian | Persian | Farsi
fij_Latn: Fijian
fin_Latn: Finnish
fon_Latn: Fon
fra_Latn: French
fur_Latn: Friulian
fuv_Latn: Nigerian Fulfulde | Fulfulde
gla_Latn: Scottish Gaelic
gle_Latn: Irish | Irish Gaelic
glg_Latn: Galician
grn_Latn: Guarani
guj_Gujr: Gujarati
hat_Latn: Haitian Creole | Haitian
hau_Latn: Hausa
heb_Hebr: Hebrew
hin_Deva: Hindi
hne_Deva: Chhattisgarhi
hrv_Latn: Croatian
hun_Latn: Hungarian
hye_Armn: Armenian
ibo_Latn: Igbo
ilo_Latn: Ilocano
ind_Latn: Indonesian
isl_Latn: Icelandic
ita_Latn: Italian
jav_Latn: Javanese
jpn_Jpan: Japanese
kab_Latn: Kabyle
kac_Latn: Jingpho
kam_Latn: Kamba
kan_Knda: Kannada
kas_Arab: Kashmiri Arabic | Kashmiri
kas_Deva: Kashmiri Devanagari
kat_Geor: Georgian
knc_Arab: Central Kanuri Arabic
knc_Latn: Central Kanuri Latin | Kanuri
kaz_Cyrl: Kazakh
kbp_Latn: Kabiyè
kea_Latn: Kabuverdianu | Cape Verdean Creole
khm_Khmr: Khmer
kik_Latn: Kikuyu
kin_Latn: Kinyarwanda
kir_Cyrl: Kyrgyz
kmb_Latn: Kimbundu
kon_Latn: Kikongo
kor_Hang: Korean
kmr_Latn: Northern Kurdish | Kurdish | Kurmanji
lao_Laoo: Lao
lvs_Latn: Standard Latvian | Latvian
lij_Latn: Ligurian
lim_Latn: Limburgish
lin_Latn: Lingala
lit_Latn: Lithuanian
lmo_Latn: Lombard
ltg_Latn: Latgalian
ltz_Latn: Luxembourgish
lua_Latn: Luba-Kasai
lug_Latn: Ganda | Luganda
luo_Latn: Luo
lus_Latn: Mizo
mag_Deva: Magahi
mai_Deva: Maithili
mal_Mlym: Malayalam
mar_Deva: Marathi
min_Latn: Minangkabau Latin | Minangkabau
mkd_Cyrl: Macedonian
plt_Latn: Plateau Malagasy | Malagasy
mlt_Latn: Maltese
mni_Beng: Meitei Bengali | Meitei | Manipuri
khk_Cyrl: Halh Mongolian | Mongolian
mos_Latn: Mossi
mri_Latn: Maori
zsm_Latn: Standard Malay | Malay
mya_Mymr: Burmese | Myanmar
nld_Latn: Dutch
nno_Latn: Norwegian Nynorsk | Nynorsk
nob_Latn: Norwegian Bokmål | Norwegian | Bokmål
npi_Deva: Nepali
nso_Latn: Northern Sotho | Sepedi
nus_Latn: Nuer
nya_Latn: Nyanja | Chichewa
oci_Latn: Occitan
gaz_Latn: West Central Oromo | Oromo
ory_Orya: Odia | Oriya
pag_Latn: Pangasinan
pan_Guru: Eastern Panjabi | Panjabi | Punjabi
pap_Latn: Papiamento
pol_Latn: Polish
por_Latn: Portuguese
prs_Arab: Dari
pbt_Arab: Southern Pashto | Pashto
quy_Latn: Ayacucho Quechua | Quechua
ron_Latn: Romanian
run_Latn: Rundi | Kirundi
rus_Cyrl: Russian
sag_Latn: Sango
san_Deva: Sanskrit
sat_Beng: Santali
scn_Latn: Sicilian
shn_Mymr: Shan
sin_Sinh: Sinhala | Sinhalese
slk_Latn: Slovak
slv_Latn: Slovenian | Slovene
smo_Latn: Samoan
sna_Latn: Shona
snd_Arab: Sindhi
som_Latn: Somali
sot_Latn: Southern Sotho | Sesotho
spa_Latn: Spanish | Castilian
als_Latn: Tosk Albanian | Albanian
srd_Latn: Sardinian
srp_Cyrl: Serbian
ssw_Latn: Swati
sun_Latn: Sundanese
swe_Latn: Swedish
swh_Latn: Swahili
szl_Latn: Silesian
tam_Taml: Tamil
tat_Cyrl: Tatar
tel_Telu: Telugu
tgk_Cyrl: Tajik
tgl_Latn: Tagalog | Filipino
tha_Thai: Thai
tir_Ethi: Tigrinya
taq_Latn: Tamasheq Latin | Tamasheq
taq_Tfng: Tamasheq Tifinagh
tpi_Latn: Tok Pisin
tsn_Latn: Tswana
tso_Latn: Tsonga
tuk_Latn: Turkmen
tum_Latn: Tumbuka
tur_Latn: Turkish
twi_Latn: Twi
tzm_Tfng: Central Atlas Tamazight | Tamazight
uig_Arab: Uyghur
ukr_Cyrl: Ukrainian
umb_Latn: Umbundu
urd_Arab: Urdu
uzn_Latn: Northern Uzbek | Uzbek
vec_Latn: Venetian
vie_Latn: Vietnamese
war_Latn: Waray
wol_Latn: Wolof
xho_Latn: Xhosa
ydd_Hebr: Eastern Yiddish | Yiddish
yor_Latn: Yoruba
yue_Hant: Yue Chinese | Cantonese
zho_Hans: Chinese Simplified | Chinese | Simplified Chinese | Mandarin
zho_Hant: Chinese Traditional | Traditional Chinese
zul_Latn: Zulu
"""


def _parse(table):
    names, codes = {}, []
    for line in table.strip().splitlines():
        code, _, rest = line.partition(":")
        codes.append(code.strip())
        for name in rest.split("|"):
            names[name.strip()] = code.strip()
    return names, codes


#: every accepted name -> its NLLB code (the canonical names and the short forms)
LANGUAGE_CODES, NLLB_CODES = _parse(_TABLE)


def _key(text):
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return " ".join(text.lower().replace("_", " ").split())


_BY_KEY = {_key(name): code for name, code in LANGUAGE_CODES.items()}
_CODES = {code.lower(): code for code in NLLB_CODES}


def language_code(name, what="language", names=None):
    """The NLLB code of a language ``name`` (e.g. ``"French"`` -> ``"fra_Latn"``).

    ``names``: another name -> code table (default :data:`LANGUAGE_CODES`). A code such as
    ``"fra_Latn"`` is returned as it is. Unknown names raise InvalidInputError.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"'{what}' must be a language name such as 'French', got "
                                f"{name!r}.")
    table = LANGUAGE_CODES if names is None else names
    by_key = _BY_KEY if names is None else {_key(k): v for k, v in table.items()}
    code = by_key.get(_key(name))
    if code is None:
        code = _CODES.get(name.strip().lower()) if names is None else \
            {v.lower(): v for v in table.values()}.get(name.strip().lower())
    if code is not None:
        return code
    close = difflib.get_close_matches(_key(name), list(by_key), n=4, cutoff=0.6)
    suggestions = [next(k for k in table if _key(k) == c) for c in close]
    raise InvalidInputError(
        f"Unknown {what} {name!r}"
        + (f" (did you mean {', '.join(repr(s) for s in suggestions)}?)" if suggestions else "")
        + f". Write the language in plain English, e.g. 'French', 'Spanish', 'Chinese "
        f"Simplified', or as an NLLB code such as 'fra_Latn'; the {len(table)} accepted names "
        "are the keys of tfhf.agents.languages.LANGUAGE_CODES.")
