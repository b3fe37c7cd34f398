#!/usr/bin/env python3
"""Builds this folder's regression corpus of *independently worded* reports (feeds/*.xml and
labels.json, the dev corpus's format, scored by ../shared/eval/score.py).

Written by the story-clustering engineer as classes of situations (a rewritten headline, an
ALL-CAPS wire, a figure written out in words, a name only in the summary) and near misses of every
kind the guards know (other figures, months, people in the same role, places, follow-ups).
It is a regression set, not the acceptance corpus (eval/stories/ is written blind to the code).
    python3 tests/corpus/stories/build.py && ../shared/eval/run-dev-like: see tests/test_story_corpus.py
"""
from __future__ import annotations

import json
from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
FEEDS = {"wire": "en", "harbor": "en", "hub": "en", "diario": "es", "andes": "es",
         "sakura": "ja", "kita": "ja"}

# (cluster, near_miss_key, feed, "MM-DD HH:MM", watchlists, title, summary)
ITEMS = [
    # ---------------------------------------------------------------- en clusters
    ("S01", None, "wire", "01-05 08:00", ["greenland"], "Greenland's premier calls snap election amid US pressure",
     "Jens-Frederik Nielsen said Greenlanders will vote on March 11, bringing the election forward as Washington renews its interest in the island."),
    ("S01", None, "harbor", "01-05 10:30", ["greenland"], "Nuuk heads to early polls as independence debate heats up",
     "Greenland will hold an early parliamentary vote on March 11 after Premier Jens-Frederik Nielsen dissolved the assembly, citing pressure from the United States."),
    ("S02", None, "wire", "01-13 15:00", ["sheinbaum"], "Mexico and US agree on joint border task force",
     "Mexican and American officials agreed to form a joint task force against fentanyl trafficking along the border, Mexico's foreign ministry said on Tuesday."),
    ("S02", None, "hub", "01-13 19:10", ["sheinbaum"], "Sheinbaum and Washington seal pact on cross-border patrols",
     "President Claudia Sheinbaum announced a security agreement with the United States that creates a joint task force against fentanyl smuggling on the border."),
    ("S03", None, "wire", "01-21 06:00", ["cuba"], "CUBA SUFFERS ISLANDWIDE BLACKOUT AFTER GRID COLLAPSE",
     "Cuba's national electric grid collapsed on Wednesday, leaving about 10 million people without power, the energy ministry said."),
    ("S03", None, "harbor", "01-21 09:45", ["cuba"], "Cuba's power grid fails, plunging the island into darkness",
     "The whole island lost electricity on Wednesday after a breakdown at the Antonio Guiteras plant brought down the national grid, Cuba's energy ministry said."),
    ("S04", None, "wire", "01-05 16:00", ["venezuela"], "Maduro pleads not guilty to narco-terrorism charges in New York",
     "Venezuela's ousted leader Nicolás Maduro entered a plea of not guilty before a federal judge in Manhattan on Monday."),
    ("S04", None, "harbor", "01-05 18:20", ["venezuela"], "Ousted Venezuelan leader denies drug charges at Manhattan hearing",
     "Nicolás Maduro told a US federal court he is not guilty of narco-terrorism and cocaine trafficking conspiracy charges."),
    ("S04", None, "hub", "01-05 21:05", ["venezuela"], "Nicolás Maduro enters not-guilty plea in US court",
     "The former Venezuelan president appeared in a Manhattan federal courtroom in shackles and denied all charges."),
    ("S05", None, "wire", "01-27 11:00", ["greenland"], "Denmark to boost Arctic defence spending by $2 billion",
     "The Danish government announced 14.6 billion kroner ($2 billion) in new spending on ships, drones and satellites to watch over Greenland and the Arctic."),
    ("S05", None, "harbor", "01-27 14:00", ["greenland"], "Copenhagen unveils Arctic military package as Greenland tensions rise",
     "Denmark will spend an extra 14.6 billion kroner on Arctic security, including new ships and long-range drones for Greenland, its defence minister said."),
    ("S06", None, "wire", "01-15 07:30", ["venezuela"], "Oil tankers resume loading at Venezuela's Jose terminal",
     "PDVSA restarted crude exports from its main Jose terminal on Thursday after a halt of about a week that followed the US strikes, shipping data showed."),
    ("S06", None, "hub", "01-15 12:15", ["venezuela"], "Venezuelan crude exports restart as tankers return to Jose port",
     "Tankers began loading crude again at the Jose terminal, Venezuela's state oil company PDVSA said, ending a week-long halt."),
    ("S07", None, "harbor", "02-06 17:00", ["venezuela"], "Trump administration eases some sanctions on Venezuelan oil",
     "The Treasury Department issued a general license allowing Chevron and other companies to expand their operations in Venezuela."),
    ("S07", None, "wire", "02-06 20:40", ["venezuela"], "US Treasury license lets Chevron expand Venezuela output",
     "The general license eases oil sanctions on Venezuela, the Treasury Department said on Friday, in a boost for Chevron."),
    ("S08", None, "hub", "02-11 09:00", ["cuba"], "Havana frees 553 prisoners after Vatican talks",
     "Cuban authorities confirmed the release of 553 prisoners after negotiations mediated by the Vatican."),
    ("S08", None, "wire", "02-11 13:30", ["cuba"], "Cuba releases more than 500 detainees in gesture to the Pope",
     "The Cuban government said it had freed 553 people in a move agreed with the Holy See."),
    # ---------------------------------------------------------------- es clusters
    ("S09", None, "diario", "01-28 13:00", ["sheinbaum"], "Sheinbaum anuncia el envío de 10.000 soldados a la frontera norte",
     "La presidenta Claudia Sheinbaum informó que 10.000 elementos de la Guardia Nacional reforzarán la frontera con Estados Unidos."),
    ("S09", None, "andes", "01-28 16:30", ["sheinbaum"], "México desplegará diez mil guardias nacionales en la frontera con EE.UU.",
     "El despliegue de 10.000 efectivos de la Guardia Nacional fue anunciado por Sheinbaum en su conferencia matutina."),
    ("S10", None, "diario", "01-05 20:00", ["venezuela"], "Delcy Rodríguez jura como presidenta encargada de Venezuela",
     "La hasta ahora vicepresidenta asumió el cargo ante la Asamblea Nacional tras la captura de Nicolás Maduro."),
    ("S10", None, "andes", "01-05 22:30", ["venezuela"], "Rodríguez asume la presidencia interina venezolana ante la Asamblea Nacional",
     "Delcy Rodríguez prestó juramento como presidenta encargada después de que Estados Unidos capturara a Maduro."),
    ("S11", None, "diario", "01-05 09:00", ["greenland"], "Groenlandia celebrará elecciones anticipadas el 11 de marzo",
     "El primer ministro Jens-Frederik Nielsen adelantó los comicios en medio del renovado interés de Washington por la isla."),
    ("S11", None, "andes", "01-05 12:00", ["greenland"], "Nielsen adelanta los comicios en Groenlandia ante la presión de Trump",
     "Los groenlandeses votarán el 11 de marzo, anunció el jefe del gobierno autónomo, Jens-Frederik Nielsen."),
    ("S12", None, "andes", "01-09 18:00", ["sheinbaum", "monroe-doctrine"], "Petro y Sheinbaum piden a Washington respetar la soberanía de América Latina",
     "Los presidentes de Colombia y México firmaron una declaración conjunta que rechaza la llamada doctrina Donroe."),
    ("S12", None, "diario", "01-09 21:00", ["sheinbaum", "monroe-doctrine"], "Colombia y México firman declaración conjunta contra la intervención estadounidense",
     "Gustavo Petro y Claudia Sheinbaum rechazaron la doctrina Donroe y pidieron respeto a la soberanía latinoamericana."),
    ("S13", None, "diario", "01-21 08:00", ["cuba"], "Apagón total deja sin luz a toda Cuba",
     "La red eléctrica nacional colapsó el miércoles por una avería en la termoeléctrica Antonio Guiteras, informó el Ministerio de Energía."),
    ("S13", None, "andes", "01-21 11:00", ["cuba"], "Colapsa el sistema eléctrico cubano; millones sin electricidad",
     "Una falla en la central Antonio Guiteras provocó la desconexión total de la red eléctrica de Cuba, según el Ministerio de Energía y Minas."),
    # ---------------------------------------------------------------- ja clusters
    ("S14", None, "sakura", "01-03 09:00", ["venezuela"], "米軍、カラカスを空爆　マドゥロ大統領を拘束",
     "米軍は3日未明、ベネズエラの首都カラカスを攻撃し、マドゥロ大統領を拘束したと発表した。"),
    ("S14", None, "kita", "01-03 11:30", ["venezuela"], "ベネズエラのマドゥロ氏拘束　米国が首都に軍事攻撃",
     "トランプ米大統領は、米軍がベネズエラの首都カラカスへの攻撃でマドゥロ大統領を拘束したと明らかにした。"),
    ("S15", None, "sakura", "01-05 10:00", ["greenland"], "グリーンランド首相、議会選挙の前倒しを表明",
     "グリーンランド自治政府のニールセン首相は、議会選挙を3月11日に前倒しすると発表した。米国の関心の高まりが背景にある。"),
    ("S15", None, "kita", "01-05 13:00", ["greenland"], "グリーンランドで3月に繰り上げ選挙へ　米国の圧力受け",
     "ニールセン首相は議会を解散し、選挙を3月11日に実施すると表明した。"),
    ("S16", None, "sakura", "01-21 10:00", ["cuba"], "キューバ全土で大規模停電",
     "キューバのエネルギー鉱山省によると、アントニオ・ギテラス発電所の故障で送電網が停止し、全土で停電が発生した。"),
    ("S16", None, "kita", "01-21 15:00", ["cuba"], "キューバ、送電網がダウンし全島停電に",
     "エネルギー鉱山省は、ギテラス発電所の故障で全国の送電網が停止したと発表した。約1000万人に影響。"),
    ("S17", None, "sakura", "01-13 22:00", ["sheinbaum"], "メキシコ大統領、米国との国境協力で合意",
     "シェインバウム大統領は、フェンタニル密輸対策で米国と合同部隊を設置することで合意したと述べた。"),
    ("S17", None, "kita", "01-14 08:00", ["sheinbaum"], "シェインバウム氏、米と合同部隊の設置発表　フェンタニル対策",
     "メキシコのシェインバウム大統領は、米国と国境で合同部隊を設けることで合意したと明らかにした。"),
    ("S18", None, "sakura", "01-06 07:00", ["venezuela"], "マドゥロ氏、NY連邦地裁で無罪を主張",
     "米国に移送されたベネズエラのマドゥロ前大統領は、ニューヨークの連邦地裁で麻薬テロなどの起訴内容を否認し、無罪を主張した。"),
    ("S18", None, "kita", "01-06 09:30", ["venezuela"], "マドゥロ前大統領が罪状認否　麻薬テロ起訴を否認",
     "マドゥロ前大統領はニューヨーク連邦地裁の罪状認否で、麻薬テロ共謀などの起訴内容を全面的に否認した。"),
    # ---------------------------------------------------------------- near misses
    (None, "N1a", "wire", "02-03 10:00", ["venezuela"], "Venezuela's oil exports rise 12% in January",
     "Shipments averaged 820,000 barrels per day last month, according to vessel tracking data."),
    (None, "N1b", "harbor", "03-03 10:00", ["venezuela"], "Venezuela's oil exports rise 8% in February",
     "Shipments averaged 890,000 barrels per day last month, according to vessel tracking data."),
    (None, "N2a", "hub", "02-17 15:00", ["venezuela"], "Maduro appears in Manhattan court for pretrial hearing",
     "The judge heard arguments on evidence disclosure in the narco-terrorism case against Nicolás Maduro."),
    (None, "N2b", "wire", "03-10 15:00", ["venezuela"], "Maduro appears again in Manhattan court as judge weighs trial date",
     "Nicolás Maduro returned to the federal courtroom where the judge discussed a possible trial date."),
    (None, "N3a", "wire", "02-02 09:00", ["greenland"], "Greenland's premier meets Danish prime minister in Copenhagen",
     "Jens-Frederik Nielsen and Mette Frederiksen discussed the US pressure on the island."),
    (None, "N3b", "harbor", "02-03 09:00", ["greenland"], "Greenland's premier meets NATO chief in Brussels",
     "Jens-Frederik Nielsen and Mark Rutte discussed Arctic security and the US pressure on the island."),
    (None, "N4a", "diario", "02-09 12:00", ["sheinbaum"], "Sheinbaum se reúne con el secretario de Estado Marco Rubio",
     "La presidenta y el jefe de la diplomacia estadounidense hablaron de seguridad y migración en Palacio Nacional."),
    (None, "N4b", "andes", "02-10 12:00", ["sheinbaum"], "Sheinbaum se reúne con el secretario de Defensa Pete Hegseth",
     "La presidenta y el jefe del Pentágono hablaron de seguridad y cooperación militar en Palacio Nacional."),
    (None, "N5a", "diario", "01-12 10:00", ["cuba"], "Cuba sube el precio de la gasolina un 25%",
     "El Ministerio de Finanzas y Precios anunció el aumento, que entra en vigor el lunes."),
    (None, "N5b", "andes", "01-26 10:00", ["cuba"], "Cuba sube el precio de la gasolina un 40%",
     "El Ministerio de Finanzas y Precios anunció un nuevo aumento, que entra en vigor el lunes."),
    ("S16", "N6a", "kita", "01-21 18:00", ["cuba"], "キューバ全土で停電　送電網が停止",
     "キューバのエネルギー鉱山省によると、全国の送電網が停止した。"),
    (None, "N6b", "sakura", "02-15 18:00", ["cuba"], "キューバで再び全土停電　送電網が停止",
     "キューバのエネルギー鉱山省によると、全国の送電網が再び停止した。"),
    (None, "N7a", "sakura", "02-03 12:00", ["venezuela"], "ベネズエラ原油輸出、1月は日量82万バレル",
     "船舶追跡データによると、ベネズエラの1月の原油輸出は日量82万バレルだった。"),
    (None, "N7b", "kita", "03-03 12:00", ["venezuela"], "ベネズエラ原油輸出、2月は日量89万バレル",
     "船舶追跡データによると、ベネズエラの2月の原油輸出は日量89万バレルだった。"),
    (None, "N8a", "wire", "01-20 10:00", ["venezuela"], "US strikes drug boat off Venezuela, killing 4",
     "The Pentagon said the vessel was operated by the Tren de Aragua gang."),
    (None, "N8b", "harbor", "01-21 10:00", ["venezuela"], "US strikes drug boat off Venezuela, killing 6",
     "The Pentagon said the vessel was operated by the Tren de Aragua gang."),
    (None, "N9a", "andes", "01-08 10:00", ["monroe-doctrine"], "Trump amenaza a Colombia con aranceles y evoca la doctrina Monroe",
     "El presidente estadounidense advirtió a Bogotá que impondrá aranceles si no frena el narcotráfico."),
    (None, "N9b", "diario", "01-09 10:00", ["monroe-doctrine", "sheinbaum"], "Trump amenaza a México con aranceles y evoca la doctrina Monroe",
     "El presidente estadounidense advirtió a Sheinbaum que impondrá aranceles si no frena el narcotráfico."),
    (None, "N10a", "wire", "01-08 14:00", ["greenland"], "Denmark summons US ambassador over Greenland remarks",
     "The Danish foreign minister called in the ambassador after Trump said the US would take the island."),
    (None, "N10b", "harbor", "01-16 14:00", ["greenland"], "Denmark summons US ambassador for second time over Greenland",
     "The Danish foreign minister called in the ambassador again after new remarks by Trump about the island."),
    # ---------------------------------------------------------------- same topics, other events
    (None, None, "wire", "01-05 11:00", ["greenland"], "Greenland's mining ban on uranium stays, minister says",
     "Greenland will not lift its ban on uranium mining despite US interest in the island's minerals."),
    (None, None, "harbor", "01-05 19:00", ["venezuela"], "Venezuelan migrants in Colombia weigh return after Maduro's fall",
     "Many of the 2.8 million Venezuelans living in Colombia say they will wait before going home."),
    (None, None, "hub", "01-05 17:00", ["venezuela"], "Machado says she will return to Caracas within weeks",
     "Opposition leader María Corina Machado said she would go back to Venezuela to prepare elections."),
    (None, None, "wire", "01-21 12:00", ["cuba"], "Cuba's tourism arrivals fall to lowest in two decades",
     "Foreign visitors to Cuba dropped last year as power cuts and shortages deterred travellers."),
    (None, None, "harbor", "01-13 17:00", ["sheinbaum"], "Sheinbaum's approval rating holds above 70%",
     "A poll published on Tuesday found strong support for the Mexican president despite US tensions."),
    (None, None, "diario", "01-28 18:00", ["sheinbaum"], "Sheinbaum presenta plan de vivienda para jóvenes",
     "La presidenta anunció un programa de créditos hipotecarios con tasas preferentes."),
    (None, None, "andes", "01-05 21:00", ["venezuela"], "Maduro comparece en Nueva York y se declara inocente",
     "El expresidente venezolano negó los cargos de narcoterrorismo ante un juez federal en Manhattan."),
    (None, None, "sakura", "01-06 12:00", ["venezuela"], "マドゥロ氏の弁護団、証拠開示を要求",
     "マドゥロ前大統領の弁護団は、検察に対し証拠の開示を求める申し立てを行った。"),
    (None, None, "kita", "01-21 20:00", ["cuba"], "キューバ観光客、20年ぶり低水準",
     "停電や物資不足が響き、昨年キューバを訪れた外国人観光客は大きく減少した。"),
    (None, None, "sakura", "01-05 15:00", ["greenland"], "グリーンランド、ウラン採掘禁止を維持",
     "自治政府の閣僚は、米国が関心を示す鉱物資源について、ウラン採掘の禁止を続けると述べた。"),
    (None, None, "diario", "01-21 13:00", ["cuba"], "Cuba anuncia cortes programados de hasta 20 horas en La Habana",
     "La Unión Eléctrica publicó un calendario de apagones rotativos para la capital."),
    (None, None, "wire", "01-27 16:00", ["greenland"], "Greenland's premier rejects US offer to buy the island",
     "Jens-Frederik Nielsen said Greenland is not for sale after Trump repeated his offer."),
]


def build() -> None:
    feeds: dict[str, list] = {f: [] for f in FEEDS}
    labels: dict[str, dict] = {}
    keyed: dict[str, str] = {}
    for n, (cluster, nm, feed, when, wls, title, summary) in enumerate(ITEMS):
        gid = f"tag:{feed}.example,2026:{n:03d}"
        dt = datetime.strptime(f"2026-{when}", "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
        feeds[feed].append((gid, title, summary, dt))
        labels[gid] = {"watchlists": wls, "cluster": cluster, "lang": FEEDS[feed],
                       "category": "positive", "title": title, "feeds": [f"{feed}.xml"]}
        if nm:
            keyed[nm] = gid
    for key, gid in keyed.items():
        other = key[:-1] + ("b" if key.endswith("a") else "a")
        labels[gid]["near_miss_of"] = keyed[other]
    out = HERE / "feeds"
    out.mkdir(exist_ok=True)
    for feed, rows in feeds.items():
        items = "".join(
            f"<item><title>{escape(t)}</title><link>https://{feed}.example/{gid.rsplit(':', 1)[1]}</link>"
            f"<guid>{escape(gid)}</guid><pubDate>{format_datetime(dt)}</pubDate>"
            f"<description>{escape(s)}</description></item>\n" for gid, t, s, dt in rows)
        (out / f"{feed}.xml").write_text(
            f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{feed}</title>'
            f"<link>https://{feed}.example/</link><language>{FEEDS[feed]}</language>\n{items}</channel></rss>\n",
            encoding="utf-8")
    meta = {"corpus": "stories-regression", "watchlists": ["venezuela", "monroe-doctrine", "sheinbaum",
                                                             "cuba", "greenland"]}
    (HERE / "labels.json").write_text(json.dumps({"meta": meta, "items": labels}, ensure_ascii=False,
                                                 indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    build()
