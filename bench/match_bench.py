"""normalise + match + dedup throughput on one core, and how the per-item cost grows with the window.

    .venv/bin/python bench/match_bench.py                       # the issue's figures (~30 s)
    .venv/bin/python bench/match_bench.py --items 5000 --window-big 20000   # quick run
    .venv/bin/python bench/match_bench.py --profile             # + cProfile of the throughput pass

Uses bot.core.process.Processor (detect_lang + Matcher.match + Deduper.process) with the shipped
watchlists (watchlists/*.yaml) over synthetic multilingual news items (ja/en/es headlines of
40-120 characters, summaries of 100-300, ~8% carrying a watchlist alias, ~1% an exclude phrase
such as "Marilyn Monroe", ~3% the same story again from another outlet). Entries are built
before timing: parsing is bench/parse_pool_bench.py's and bench/pipeline_bench.py's business.

Targets (issue 9): >= 25,000 items/s on one core; per-item cost flat (<= 1.3x) from a 1,000- to a
100,000-item dedup window. A script that prints figures, not a test: it asserts nothing.
The item generator (`NewsGen`) also makes the feeds of bench/feedbench.py (pipeline_bench,
scale_bench, poll_bench).
"""
from __future__ import annotations

import argparse
import bisect
import cProfile
import gc
import io
import itertools
import os
import platform
import pstats
import random
import resource
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.adapters.config import load_config  # noqa: E402
from bot.cli import GC_THRESHOLD  # noqa: E402
from bot.core import normalize  # noqa: E402
from bot.core.dedup import Deduper  # noqa: E402
from bot.core.matcher import Matcher  # noqa: E402
from bot.core.model import Entry  # noqa: E402
from bot.core.normalize import detect_lang  # noqa: E402
from bot.core.process import Processor  # noqa: E402

WATCHLISTS = ROOT / "watchlists"

# ------------------------------------------------------------------------------ vocabulary
EN_WORDS = """
government minister ministers president prime parliament election elections vote voters court
judge ruling law bill budget tax taxes tariff tariffs trade deal talks summit leaders meeting
economy economic growth inflation rates bank central markets stocks shares bonds investors oil
gas energy prices power grid outage outages storm flood floods earthquake wildfire heat
drought climate emissions police protest protests strike strikes union workers wages jobs
unemployment housing rent health hospital vaccine outbreak virus schools students university
research study report data survey poll campaign candidate party opposition coalition reform
corruption investigation probe charges trial verdict sentence prison border migrants asylum
refugees security military army navy troops drone missile attack ceasefire peace war conflict
sanctions embassy diplomat diplomats foreign allies alliance treaty agreement exports imports
factory industry technology companies company chip chips software startup merger acquisition
profit losses revenue quarter forecast outlook record crisis emergency rescue aid relief
damage victims officials spokesperson statement announcement plan plans proposal decision
policy rules regulators regulation privacy online platform social media network satellite
space launch rocket airline flights airport train rail port shipping container fishing farmers
harvest food water supply shortage cost living families children women youth pension retirees
tourism tourists visitors festival museum film music artist sports football league coach team
match championship final season transfer player players stadium fans record-breaking
""".split()
EN_VERBS = """
says warns plans seeks rejects backs approves delays cuts raises eases extends blocks signs
launches unveils faces denies confirms vows urges calls pledges wins loses hits falls rises
slumps surges expands halts resumes targets boosts weighs considers proposes announces
""".split()
EN_FUNC = "the of to in and a for on with after over as at by from amid despite before into".split()
EN_PLACES = """
Brazil Argentina Chile Peru Colombia Ecuador Bolivia Paraguay Uruguay Panama Guatemala Honduras
Nicaragua Canada Mexico Japan China Korea India Indonesia Vietnam Thailand Philippines Australia
Germany France Spain Italy Britain Poland Ukraine Russia Turkey Egypt Nigeria Kenya Ethiopia
Brussels Tokyo Beijing Seoul Madrid Paris Berlin London Washington Ottawa Lima Bogota Santiago
Texas California Florida Ontario Quebec Bavaria Catalonia Andalusia Osaka Kyoto Hokkaido
""".split()
ES_WORDS = """
gobierno ministro ministra presidente congreso elecciones votación tribunal juez fallo ley
presupuesto impuestos aranceles comercio acuerdo diálogo cumbre líderes reunión economía
crecimiento inflación tasas banco mercados acciones bonos inversores petróleo gas energía
precios apagón apagones tormenta inundaciones terremoto incendio sequía clima emisiones policía
protesta protestas huelga sindicato trabajadores salarios empleo vivienda alquiler salud
hospital vacuna brote escuelas estudiantes universidad estudio informe datos encuesta campaña
candidato partido oposición coalición reforma corrupción investigación cargos juicio sentencia
prisión frontera migrantes refugiados seguridad ejército tropas ataque paz guerra conflicto
sanciones embajada diplomático aliados tratado exportaciones importaciones fábrica industria
tecnología empresas empresa beneficios pérdidas ingresos trimestre pronóstico récord crisis
emergencia rescate ayuda daños víctimas funcionarios portavoz comunicado anuncio plan propuesta
decisión política reglas reguladores plataforma redes satélite lanzamiento aerolínea vuelos
aeropuerto tren puerto agricultores cosecha alimentos agua suministro escasez costo familias
niños mujeres jóvenes pensiones turismo turistas festival museo película música deporte fútbol
liga entrenador equipo partido campeonato temporada fichaje jugador estadio aficionados
""".split()
ES_VERBS = """
anuncia advierte planea busca rechaza respalda aprueba retrasa recorta sube extiende bloquea
firma lanza presenta enfrenta niega confirma promete exige pide gana pierde cae aumenta
amplía suspende reanuda impulsa evalúa propone
""".split()
ES_FUNC = "el la los las de del en y por para con tras sobre ante entre sin según".split()
ES_PLACES = """
Brasil Argentina Chile Perú Colombia Ecuador Bolivia Paraguay Uruguay Panamá Guatemala Honduras
Nicaragua Canadá México Japón China Corea India Alemania Francia España Italia Reino Unido
Bruselas Tokio Pekín Madrid París Berlín Londres Washington Lima Bogotá Santiago Monterrey
Guadalajara Jalisco Oaxaca Yucatán Chiapas Valencia Barcelona Sevilla Andalucía Cataluña
""".split()
JA_WORDS = """
政府 首相 大統領 議会 選挙 投票 裁判所 判決 法案 予算 税制 関税 貿易 協議 会談 首脳 経済
成長 物価 金利 日銀 株価 市場 投資家 原油 エネルギー 電力 停電 台風 大雨 地震 火災 猛暑
気候 警察 抗議 デモ 労働組合 賃金 雇用 住宅 医療 病院 ワクチン 感染 学校 大学 研究 調査
世論調査 野党 与党 連立 改革 汚職 捜査 起訴 裁判 国境 移民 難民 安全保障 防衛 自衛隊 部隊
ミサイル 攻撃 停戦 和平 戦争 制裁 大使館 外交 同盟 条約 合意 輸出 輸入 工場 産業 半導体
企業 買収 利益 赤字 売上高 見通し 過去最高 危機 緊急 救助 支援 被害 当局 発表 計画 方針
規制 政策 衛星 打ち上げ 航空 空港 鉄道 港湾 農家 食料 供給 不足 家計 子ども 年金 観光
訪日客 映画 音楽 野球 サッカー 監督 選手 優勝 大会
""".split()
JA_PARTICLES = ["は", "が", "を", "に", "で", "と", "の", "も", "へ", "から"]
JA_ENDINGS = ["へ", "方針", "発表", "検討", "を協議", "で合意", "に懸念", "相次ぐ", "見送り", "か"]
JA_PLACES = """
ブラジル アルゼンチン チリ ペルー コロンビア エクアドル ボリビア パナマ カナダ メキシコ 中国
韓国 インド インドネシア ベトナム タイ フィリピン オーストラリア ドイツ フランス スペイン
イタリア 英国 ウクライナ ロシア トルコ エジプト 東京 大阪 北海道 沖縄 福岡 名古屋 京都
""".split()
JA_LATIN = ["G7", "NATO", "IMF", "AI", "EU", "WTO", "GDP", "OPEC", "WHO", "TPP"]
JA_KANA = list("アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン"
               "ガギグゲゴザジズゼゾダデドバビブベボパピプペポ")
LATIN_SYL = ("ba be bi bo ca co da de di do fa fe fi ga go ha he ka ke ki ko la le li lo lu ma me "
             "mi mo na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va ve vi vo za zo "
             "ber car del son ton man ler gan rez lez dez nov sky ski wic ford berg stein").split()
FIRST = ("Ana Luis Maria Carlos Jose Juan Sofia Lucia Pedro Elena Diego Laura John Mary James Emma "
         "Olivia Liam Noah Sarah David Anna Peter Paul Mark Kenji Yuki Hiro Aiko Takeshi Mei").split()
OUTLETS = ("Reuters AP AFP Bloomberg EFE Kyodo Jiji Asahi Mainichi Nikkei Yomiuri Guardian Times "
           "Post Herald Tribune Globe Mundo Pais Clarin Nacion Milenio Excelsior Universal").split()
MORE_KANJI = ("日本人年大中国出会長自生事行分前後上下市場社見政治経済新地方東西南北明発表動議院員者所内外"
              "高低強弱安全保障問題関係対策実施開始終了増加減少全体部品質交通運輸教育文化科学技術環境資源"
              "農業漁商金融資本労働賃貸住宅建設計画設備電気通信情報放送報道記事写真映像番組委理庁府県町村"
              "区都道消防医師患者薬剤検査結果原因調整判断確認要求提案拒否賛成反対支持不満批判懸念期待予想"
              "定延続拡縮再")


class Zipf:
    """Draw from `words` with probability ~ 1/(rank + offset): a few words very often, most rarely."""

    def __init__(self, words, offset: float = 3.0):
        self.words = list(words)
        self.cum = list(itertools.accumulate(1.0 / (i + offset) for i in range(len(self.words))))

    def __call__(self, rng: random.Random) -> str:
        return self.words[bisect.bisect_left(self.cum, rng.random() * self.cum[-1])]


def _pseudo_words(rng: random.Random, n: int, syl, lo: int, hi: int, taken) -> list[str]:
    out, seen = [], set(taken)
    while len(out) < n:
        w = "".join(rng.choice(syl) for _ in range(rng.randint(lo, hi)))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


class NewsGen:
    """Deterministic synthetic news items: dicts with title, summary, lang, link, guid, published.

    Word frequencies are Zipfian over a realistic vocabulary size (common news words first, then
    ~12,000 rarer generated words per language, ~8,000 person names per language), so that
    de-duplication features have a natural spread of document frequencies.
    `match_rate`: share of items carrying a watchlist alias (in the title 70%, summary 30%);
    `exclude_rate`: share carrying an exclude phrase only (must not match); `dup_rate`: share
    that repeat an earlier story from another outlet (title with an outlet suffix, same summary).
    """

    def __init__(self, seed: int = 1, *, watchlists_dir: Path = WATCHLISTS, match_rate: float = 0.05,
                 exclude_rate: float = 0.01, dup_rate: float = 0.03, names: int = 8000,
                 vocab: int = 12000):
        self.rng = r = random.Random(seed)
        self.match_rate, self.exclude_rate, self.dup_rate = match_rate, exclude_rate, dup_rate
        cfg = load_config(watchlists_dir)
        self.aliases: dict[str, list[str]] = {"en": [], "es": [], "ja": []}
        self.excludes: dict[str, list[str]] = {"en": [], "es": [], "ja": []}
        for w in cfg.watchlists.values():
            for lang, a in w.all_aliases():
                if lang in self.aliases and not a.ambiguous and not a.unless:
                    self.aliases[lang].append(a.text)
            for x in w.excludes:
                lang = "ja" if not x.isascii() else "en"
                if x.startswith(("sándwich", "café", "tiburón", "venezolano")):
                    lang = "es"
                self.excludes[lang].append(x)
        kanji = sorted({c for w in JA_WORDS for c in w if "\u4e00" <= c <= "\u9fff"} | set(MORE_KANJI))
        self.words = {
            "en": Zipf(EN_WORDS + _pseudo_words(r, vocab, LATIN_SYL, 2, 4, EN_WORDS)),
            "es": Zipf(ES_WORDS + _pseudo_words(r, vocab, LATIN_SYL, 2, 4, ES_WORDS)),
            "ja": Zipf(JA_WORDS + _pseudo_words(r, vocab, kanji, 2, 3, JA_WORDS)),
        }
        self.names = {
            "latin": Zipf(w.title() for w in _pseudo_words(r, names, LATIN_SYL, 2, 3, ())),
            "ja": Zipf(_pseudo_words(r, names, JA_KANA, 3, 6, ())),
        }
        self.places = {"en": Zipf(EN_PLACES), "es": Zipf(ES_PLACES), "ja": Zipf(JA_PLACES)}
        self.stories: list[dict] = []   # earlier stories, for cross-outlet repeats
        self.n = 0

    # ------------------------------------------------------------------ text pieces
    def _name(self, lang: str) -> str:
        r = self.rng
        if lang == "ja":
            return self.names["ja"](r) + r.choice(["氏", "首相", "大統領", "外相", "社長", "", ""])
        surname = self.names["latin"](r)
        return f"{r.choice(FIRST)} {surname}" if r.random() < 0.4 else surname

    def _number(self) -> str:
        r = self.rng
        return r.choice([f"{r.randint(2, 99)}%", f"{r.randint(2, 900)}", f"{r.randint(1, 9)}.{r.randint(1, 9)}%",
                         f"${r.randint(1, 99)} billion", f"{r.randint(1990, 2026)}"])

    def _latin_phrase(self, lang: str, target: int) -> str:
        r = self.rng
        verbs, func = (EN_VERBS, EN_FUNC) if lang == "en" else (ES_VERBS, ES_FUNC)
        words, places = self.words[lang], self.places[lang]
        parts = [self._name(lang) if r.random() < 0.5 else places(r), r.choice(verbs)]
        n = len(parts[0]) + len(parts[1]) + 1
        while n < target:
            x = r.random()
            if x < 0.50:
                w = words(r)
            elif x < 0.72:
                w = r.choice(func)
            elif x < 0.80:
                w = places(r)
            elif x < 0.90:
                w = self._name(lang)
            elif x < 0.95:
                w = self._number()
            else:
                w = r.choice(verbs)
            parts.append(w)
            n += len(w) + 1
        return " ".join(parts)

    def _ja_phrase(self, target: int) -> str:
        r = self.rng
        words, places = self.words["ja"], self.places["ja"]
        out = [self._name("ja") if r.random() < 0.5 else places(r), "、"]
        n = len(out[0]) + 1
        while n < target:
            x = r.random()
            if x < 0.60:
                w = words(r) + r.choice(JA_PARTICLES)
            elif x < 0.70:
                w = places(r) + r.choice(JA_PARTICLES)
            elif x < 0.82:
                w = self._name("ja") + r.choice(JA_PARTICLES)
            elif x < 0.88:
                w = r.choice(JA_LATIN)
            elif x < 0.94:
                w = f"{r.randint(2, 900)}{r.choice(['億円', '人', '%', '万人', '件'])}"
            else:
                w = r.choice(JA_ENDINGS) + r.choice(["。", "　", "、"])
            out.append(w)
            n += len(w)
        return "".join(out)

    def _phrase(self, lang: str, target: int) -> str:
        return self._ja_phrase(target) if lang == "ja" else self._latin_phrase(lang, target)

    @staticmethod
    def _insert(text: str, phrase: str, rng: random.Random, lang: str) -> str:
        if lang == "ja":
            i = rng.randint(0, len(text))
            return text[:i] + phrase + text[i:]
        words = text.split(" ")
        i = rng.randint(1, len(words))
        return " ".join(words[:i] + [phrase] + words[i:])

    # ------------------------------------------------------------------ items
    def item(self, lang: str, outlet: str = "", now: datetime | None = None,
             age: float = 47 * 3600, min_age: float = 0.0) -> dict:
        """One item in `lang`, published uniformly between `age` and `min_age` seconds before now."""
        r = self.rng
        now = now or datetime.now(timezone.utc)
        self.n += 1
        outlet = outlet or r.choice(OUTLETS)
        published = now - timedelta(seconds=r.uniform(min_age, age))
        if self.stories and r.random() < self.dup_rate:
            s = r.choice(self.stories)
            title = s["title"] + (f" - {outlet}" if s["lang"] != "ja" else f"（{outlet}）")
            summary, lang, kind = s["summary"], s["lang"], "repeat"
        else:
            title = self._phrase(lang, r.randint(40, 110))[:120]
            summary = self._phrase(lang, r.randint(100, 280))[:300]
            x = r.random()
            kind = "plain"
            if x < self.match_rate:
                pool = self.aliases[lang] or self.aliases["en"]
                alias = r.choice(pool)
                if r.random() < 0.7:
                    title = self._insert(title, alias, r, lang)
                else:
                    summary = self._insert(summary, alias, r, lang)
                kind = "alias"
            elif x < self.match_rate + self.exclude_rate and self.excludes[lang]:
                title = self._insert(title, r.choice(self.excludes[lang]), r, lang)
                kind = "exclude"
            if len(self.stories) < 5000:
                self.stories.append({"title": title, "summary": summary, "lang": lang})
            elif r.random() < 0.1:
                self.stories[r.randrange(len(self.stories))] = {"title": title, "summary": summary,
                                                                "lang": lang}
        slug = "-".join(w.lower() for w in title.split()[:5] if w.isascii() and w.isalnum()) or "news"
        day = published.strftime("%Y/%m/%d")
        link = f"https://www.{outlet.lower()}.example/{lang}/{day}/{slug}-{self.n}"
        if self.n % 3 == 0:
            link += "?utm_source=rss&utm_medium=feed"
        return {"title": title, "summary": summary, "lang": lang, "link": link,
                "guid": f"urn:{outlet.lower()}:{self.n}", "published": published, "kind": kind}

    def entries(self, n: int, *, now: datetime | None = None, age: float = 47 * 3600,
                min_age: float = 0.0,
                langs=(("ja", 0.35), ("en", 0.40), ("es", 0.25))) -> list[Entry]:
        codes, weights = zip(*langs)
        out = []
        for _ in range(n):
            lang = self.rng.choices(codes, weights)[0]
            it = self.item(lang, now=now, age=age, min_age=min_age)
            out.append(Entry(id=it["guid"], feed=f"bench-{lang}", title=it["title"], link=it["link"],
                             summary=it["summary"], published=it["published"], lang=lang))
        return out


# ------------------------------------------------------------------------------ measuring
def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        try:
            cpu = min(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {cpu})
            return f"pinned to CPU {cpu}"
        except OSError:
            pass
    return "not pinned (single-threaded anyway)"


def rss_mib() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


def fresh_processor(watchlists, window: float = 48 * 3600) -> Processor:
    normalize._prep_cached.cache_clear()     # no warm caches carried between measurements
    return Processor(Matcher(watchlists), Deduper(window))


class StageClock:
    """Adds up the time spent in each stage by wrapping, for the duration of a measurement:
    matcher.match (match); deduper.process and, where it exists, bot.core.process.dedup_prepare
    (the per-entry part of dedup that may run in a parser worker) (dedup); the story index's
    check/add and stories.features (stories, wherever they are called from). Times are exclusive
    (a wrapped call inside another is counted once, in its own stage); normalisation and
    detect_lang are the rest. Costs ~0.5 us per wrapped call. `dedup` includes `story`."""

    def __init__(self, proc: Processor):
        self.t = {"match": 0.0, "dedup": 0.0, "story": 0.0}
        self._nested: list[float] = []
        self._undo: list[tuple] = []
        from bot.core import process as process_mod
        self._wrap(proc.matcher, "match", "match")
        self._wrap(proc.deduper, "process", "dedup")
        self._wrap(process_mod, "dedup_prepare", "dedup")
        stories = getattr(proc.deduper, "stories", None)
        if stories is not None:                 # the story step: features + check + add
            from bot.core import stories as story_mod
            for obj, name in ((stories, "check"), (stories, "add"), (story_mod, "features")):
                self._wrap(obj, name, "story")

    def _wrap(self, obj, name: str, stage: str) -> None:
        fn = getattr(obj, name, None)
        if fn is None:                          # not in this version of the code
            return

        def timed(*a, **kw):
            self._nested.append(0.0)
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                took = time.perf_counter() - t
                self.t[stage] += took - self._nested.pop()
                if self._nested:
                    self._nested[-1] += took
        self._undo.append((obj, name, fn, name in vars(obj)))
        setattr(obj, name, timed)

    @property
    def match(self) -> float:
        return self.t["match"]

    @property
    def dedup(self) -> float:
        return self.t["dedup"] + self.t["story"]

    @property
    def story(self) -> float:
        return self.t["story"]

    def close(self) -> None:
        """Unwrap everything (module attributes would otherwise stay wrapped for the next run)."""
        for obj, name, fn, own in reversed(self._undo):
            if own:
                setattr(obj, name, fn)
            else:
                delattr(obj, name)              # the class's method shows through again
        self._undo.clear()


def breakdown(total: float, clock: StageClock, n: int) -> str:
    rest = total - clock.match - clock.dedup
    return "  ".join(f"{name} {t / n * 1e6:.0f} us ({t / total:.0%})" for name, t in
                     (("normalise+detect_lang", rest), ("match", clock.match),
                      ("dedup: copies", clock.dedup - clock.story), ("stories", clock.story)))


def story_growth(watchlists, now, args) -> None:
    """The story step alone (features + StoryIndex.check + add) against story indexes holding
    --window-small and --window-big *matched* reports (every one in the index, the worst case:
    in a feed mix only the ~5% that match a watchlist enter it). Rounds alternate between the
    two indexes so a neighbour's load hits both alike; each figure is the median round."""
    from statistics import median

    from bot.core.normalize import prep
    from bot.core.stories import StoryIndex, features
    matcher = Matcher(watchlists)
    sizes = (args.window_small, args.window_big)
    print(f"\n[2b] story step vs story index size: StoryIndex prefilled with N reports that each "
          f"matched a watchlist\n    (published 47 h..1 h ago), then features + check + add for "
          f"fresh matched reports, {args.rounds} alternating rounds of {args.fresh // args.rounds:,}")

    def prepared(entries):
        out = []
        for e in entries:
            hits = matcher.match(e)
            out.append((e, {h.watchlist for h in hits} or {"-"}, {h.text for h in hits}))
        return out

    indexes = {}
    for size in sizes:
        g = NewsGen(args.seed + 300, match_rate=1.0, dup_rate=0.0)
        idx = StoryIndex(48 * 3600)
        t0 = time.perf_counter()
        for e, wls, topic in prepared(g.entries(size, now=now, age=47 * 3600, min_age=3600)):
            f = features(prep(e.title), prep(e.summary[:400]), e.lang, topic)
            idx.add(e.id, e.id, e.lang, e.published.timestamp(), wls, f, e.title)
        indexes[size] = idx
        print(f"  prefilled {size:>7,} reports in {time.perf_counter() - t0:5.1f}s")
    fresh = prepared(NewsGen(args.seed + 400, match_rate=1.0, dup_rate=0.0)
                     .entries(args.fresh, now=now, age=3600))
    per = max(1, len(fresh) // args.rounds)
    times: dict[int, list[float]] = {size: [] for size in sizes}
    folded = dict.fromkeys(sizes, 0)
    for r in range(args.rounds):
        part = fresh[r * per:(r + 1) * per]
        for size in (sizes if r % 2 == 0 else sizes[::-1]):
            idx = indexes[size]
            gc.collect()
            t0 = time.perf_counter()
            for e, wls, topic in part:
                f = features(prep(e.title), prep(e.summary[:400]), e.lang, topic,
                             keep_surface=True)
                v = idx.check(f"{size}-{e.id}", e.lang, e.published.timestamp(), wls, f)
                folded[size] += v is not None
                idx.add(f"{size}-{e.id}", v.root if v else e.id, e.lang,
                        e.published.timestamp(), wls, f, e.title)
            times[size].append((time.perf_counter() - t0) / len(part))
    small, big = (median(times[s]) for s in sizes)
    for s, m in zip(sizes, (small, big)):
        print(f"  index {s:>7,}: {m * 1e6:6.1f} us/item (median of {args.rounds} rounds; "
              f"{folded[s]} folded into a story)")
    ratio = big / small
    print(f"  story step {sizes[1]:,} / {sizes[0]:,}: {ratio:.2f}x   target <= 1.3x: "
          f"{'MET' if ratio <= 1.3 else 'MISSED'}")
    del indexes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20_000, help="items for the throughput pass")
    ap.add_argument("--fresh", type=int, default=5_000, help="items timed against each window")
    ap.add_argument("--window-small", type=int, default=1_000)
    ap.add_argument("--window-big", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=10, help="alternating rounds in [2b]")
    ap.add_argument("--only-stories", action="store_true", help="run [2b] only")
    ap.add_argument("--match-rate", type=float, default=0.08, help="share of items naming a topic")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mem-sample", type=int, default=10_000,
                    help="items indexed under tracemalloc for the per-item memory figure")
    ap.add_argument("--profile", action="store_true", help="cProfile the throughput pass")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    args = ap.parse_args()

    pinned = "not pinned" if args.no_pin else pin_one_core()
    # the cyclic GC as every sokuho process runs it (bot/cli.py sets these thresholds before any
    # command; the service keeps the GC on)
    gc.set_threshold(*GC_THRESHOLD)
    print(f"match_bench  {datetime.now().strftime('%Y-%m-%d %H:%M')}  Python "
          f"{platform.python_version()}  cpus={os.cpu_count()}  {pinned}  GC on, thresholds "
          f"{GC_THRESHOLD} (as in the service)")
    watchlists = load_config(WATCHLISTS).watchlists
    n_alias = sum(len(w.all_aliases()) for w in watchlists.values())
    print(f"watchlists: {len(watchlists)} shipped ({', '.join(watchlists)}), {n_alias} aliases")
    now = datetime.now(timezone.utc)

    if args.only_stories:
        story_growth(watchlists, now, args)
        return

    # ---------------------------------------------------------------- 1. throughput
    gen = NewsGen(args.seed, match_rate=args.match_rate)
    t0 = time.perf_counter()
    items = gen.entries(args.items, now=now)
    tl = sum(len(e.title) for e in items) / len(items)
    sl = sum(len(e.summary) for e in items) / len(items)
    print(f"\n[1] throughput: Processor.process (detect_lang + Matcher.match + Deduper.process) over "
          f"{len(items):,} items\n    (ja 35% / en 40% / es 25%; mean title {tl:.0f} chars, summary "
          f"{sl:.0f}; ~{args.match_rate:.0%} with an alias, ~3% repeats from another outlet; "
          f"generated in {time.perf_counter() - t0:.1f}s), fresh dedup index")
    gc.collect()
    proc = fresh_processor(watchlists)
    clock = StageClock(proc)
    prof = cProfile.Profile() if args.profile else None
    if prof:
        prof.enable()
    t0 = time.perf_counter()
    out = [proc.process(e, now) for e in items]
    wall = time.perf_counter() - t0
    if prof:
        prof.disable()
    matched = sum(1 for p in out if p.hits)
    dups = sum(1 for p in out if p.dup.duplicate_of)
    rate = len(items) / wall
    print(f"  {wall:6.2f}s  {rate:9,.0f} items/s  {wall / len(items) * 1e6:6.1f} us/item"
          f"{'  (under cProfile: slower)' if prof else ''}   target >= 25,000 items/s: "
          f"{'MET' if rate >= 25_000 else 'MISSED'}")
    print(f"  where: {breakdown(wall, clock, len(items))}")
    clock.close()
    print(f"  matched {matched:,} ({matched / len(items):.1%}), flagged duplicate {dups:,} "
          f"({dups / len(items):.1%})")
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(22)
        print("\n  cProfile (throughput pass, by own time):")
        print("\n".join("    " + ln for ln in s.getvalue().splitlines()[:40] if ln.strip()))
    del out, proc, items, gen

    # ---------------------------------------------------------------- 2. window growth
    print(f"\n[2] per-item cost vs dedup window: Deduper.add prefills N distinct stories (published "
          f"47 h..1 h ago);\n    then Processor.process on {args.fresh:,} fresh distinct stories "
          f"(last hour), in chunks; between chunks (untimed)\n    Deduper.expire drops as many of the "
          f"oldest, so the index stays at N, as prune() keeps it in the service")
    results = {}
    for size in (args.window_small, args.window_big):
        g = NewsGen(args.seed + 100, match_rate=args.match_rate, dup_rate=0.0)
        prefill = sorted(g.entries(size, now=now, age=47 * 3600, min_age=3600),
                         key=lambda e: e.published)
        fresh = g.entries(args.fresh, now=now, age=3600)
        gc.collect()
        proc = fresh_processor(watchlists)
        rss0 = rss_mib()
        t0 = time.perf_counter()
        for e in prefill:
            hits = proc.matcher.match(e)      # stories are kept per watchlist
            proc.deduper.add(e, now=now, watchlists={h.watchlist for h in hits},
                             topic={h.text for h in hits})
        t_fill = time.perf_counter() - t0
        gc.collect()
        index_mib = rss_mib() - rss0
        clock = StageClock(proc)
        chunk = max(1, min(500, size // 4))
        wall, dups, oldest = 0.0, 0, 0
        for i in range(0, len(fresh), chunk):
            part = fresh[i:i + chunk]
            t0 = time.perf_counter()
            out = [proc.process(e, now) for e in part]
            wall += time.perf_counter() - t0
            dups += sum(1 for p in out if p.dup.duplicate_of)
            oldest = min(oldest + len(part), len(prefill) - 1)
            proc.deduper.expire(prefill[oldest].published.timestamp())
        n = len(fresh)
        clock.close()
        results[size] = (wall / n, clock.dedup / n, clock.story / n)
        mem = (f"RSS +{index_mib:4.0f} MiB ({index_mib * 2**20 / size / 1024:4.1f} KiB/item)"
               if size >= 20_000 else "RSS growth too small to read")
        print(f"  window {size:>7,}: prefill {t_fill:5.1f}s ({t_fill / size * 1e6:4.0f} us/add), {mem} | "
              f"{wall / n * 1e6:6.0f} us/item ({n / wall:6,.0f} items/s), {dups} flagged duplicate\n"
              f"  {'':17}{breakdown(wall, clock, n)}")
        del prefill, fresh, proc, out
    small, big = results[args.window_small], results[args.window_big]
    ratio = big[0] / small[0]
    print(f"  per-item cost {args.window_big:,} / {args.window_small:,}: {ratio:.2f}x "
          f"(dedup stage alone {big[1] / small[1]:.2f}x)   target <= 1.3x: "
          f"{'MET' if ratio <= 1.3 else 'MISSED'}")
    sr = big[2] / small[2]
    print(f"  story step (features + check + add) {small[2] * 1e6:.0f} us/item at {args.window_small:,}, "
          f"{big[2] * 1e6:.0f} us/item at {args.window_big:,}: {sr:.2f}x   target <= 1.3x: "
          f"{'MET' if sr <= 1.3 else 'MISSED'}")

    # ---------------------------------------------------------------- 2b. story index growth
    try:
        story_growth(watchlists, now, args)
    except (AttributeError, TypeError, ImportError) as e:   # the story index's API moved on
        print(f"\n[2b] story step vs story index size: skipped ({type(e).__name__}: {e})")

    # ---------------------------------------------------------------- 3. memory
    sample = NewsGen(args.seed + 200, dup_rate=0.0).entries(args.mem_sample, now=now)
    gc.collect()
    tracemalloc.start()
    d = Deduper()
    for e in sample:
        d.add(e, now=now)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0]
    top = tracemalloc.take_snapshot().statistics("lineno")[:4]
    tracemalloc.stop()
    print(f"\n[3] memory: dedup index {traced / len(sample) / 1024:.1f} KiB per item (tracemalloc, "
          f"{len(sample):,}-item sample; {traced / 2**20:.0f} MiB; a small index\n    has more new features "
          f"per item, see the RSS growth of the big window in [2]), largest allocation sites:")
    for st in top:
        fr = st.traceback[0]
        print(f"    {Path(fr.filename).name}:{fr.lineno:<4} {st.size / 2**20:6.1f} MiB  {st.count:>9,} blocks")
    print(f"  peak RSS of this process: {peak_mib():.0f} MiB (ru_maxrss; dominated by the "
          f"{args.window_big:,}-item dedup index)")


if __name__ == "__main__":
    main()
