"""Words for the same kind of news event across wordings (pure data + lookup).

Outlets describe one event in their own words: "strikes" / "raid" / "bombardea" / 空爆,
"seize" / "detained" / "captura" / 拘束. Story clustering (stories.py) adds a concept term
("~attack") for each of these it finds, so two reports that say the same thing differently still
share evidence. A general news vocabulary, the same for every watchlist and corpus: rarity
weighting (IDF) keeps common concepts cheap, the guards keep different events apart.
"""
from __future__ import annotations

import re

# concept -> (English, Spanish, Japanese) words; Latin words are matched by their stems
CONCEPTS: dict[str, tuple[str, str, str]] = {
    "attack": ("attack attacks attacked strike strikes struck airstrike airstrikes bomb bombs "
               "bombing bombed bombard bombardment raid raids explosion explosions blast blasts "
               "shelling offensive assault",
               "ataque ataques atacar ataca bombardeo bombardeos bombardea bombardear explosion "
               "explosiones ofensiva incursion asalto",
               "攻撃 空爆 爆撃 急襲 爆発 襲撃 空襲"),
    "capture": ("capture captures captured seize seizes seized detain detains detained arrest "
                "arrested custody apprehended abducted",
                "captura capturar capturado capturan detenido detenida detencion arresto arrestado "
                "aprehendido secuestro",
                "拘束 逮捕 身柄 拉致"),
    "election": ("election elections vote votes voters polls ballot snap",
                 "eleccion elecciones comicios votacion votaran votar sufragio urnas",
                 "選挙 投票 議会選"),
    "win": ("win wins won victory victorious", "gana gano ganan victoria triunfo vence",
            "勝利 第1党 勝つ"),
    "blackout": ("blackout blackouts outage outages darkness electricity grid",
                 "apagon apagones electricidad electrico electrica luz",
                 "停電 送電 電力"),
    "deaths": ("killed kills killing dead deaths died death toll",
               "muertos muerto murieron fallecidos muertes mata matan",
               "死亡 死者 殺害 死去"),
    "free": ("release releases released free frees freed freeing",
             "libera liberan liberacion liberados excarcela excarcelacion excarcelados",
             "釈放 解放"),
    "prisoners": ("prisoners prisoner detainees detainee inmates jailed",
                  "presos preso detenidos prisioneros reos",
                  "囚人 受刑者 政治犯 収監"),
    "troops": ("troops soldiers forces military", "tropas soldados militares efectivos fuerzas",
               "部隊 兵士 軍"),
    "deal": ("agree agrees agreed agreement deal pact accord",
             "acuerdo acuerdan pacto convenio acordaron", "合意 協定"),
    "talks": ("talks talk meet meets meeting call phone spoke",
              "reunion reune conversacion conversan llamada telefonica dialogo",
              "会談 電話 協議 対話"),
    "court": ("court courtroom judge hearing plead pleads pleaded plea arraigned arraignment trial",
              "tribunal juez jueza audiencia comparece comparecencia juicio",
              "地裁 法廷 出廷 罪状 公判 裁判"),
    "reject": ("reject rejects rejected refuses refused dismisses rules ruled denies",
               "rechaza rechazan rechazo descarta descartan niega", "拒否 否定 一蹴 否認 反発"),
    "protest": ("protest protests protesters rally rallies march marches demonstration",
                "protesta protestas marcha marchas manifestacion manifestantes", "抗議 デモ 集会"),
    "oil": ("oil crude petroleum barrels", "petroleo crudo barriles petrolera", "原油 石油"),
    "invest": ("invest investment investments investors", "inversion inversiones invertir",
               "投資 進出"),
    "fuel": ("fuel gasoline diesel", "combustible gasolina diesel", "燃料 ガソリン"),
    "transfer": ("extradite extradited extradition transfer transferred hands handed send sends "
                 "sent expel expelled deport deported",
                 "extradita extradicion traslada trasladados envia envio entrega expulsa deporta",
                 "移送 引き渡 送還"),
    "resign": ("resign resigns resigned resignation quits", "renuncia dimite dimision",
               "辞任 辞意"),
    "tariffs": ("tariff tariffs duties", "arancel aranceles", "関税"),
    "threat": ("threat threatens threatened warn warns warned warning",
               "amenaza amenazan advierte advirtio", "警告 威嚇 脅"),
    "security council": ("security council", "consejo de seguridad", "安保理"),
    "sovereignty": ("sovereignty sovereign intervention interference",
                    "soberania soberano intervencion injerencia", "主権 介入 干渉"),
    "sale": ("sale buy purchase acquire acquisition", "venta compra comprar adquirir",
             "売り物 取得 購入 買収"),
}


def latin_index(stem) -> dict[str, str]:
    """stem -> concept term for one language's stemmer (`stem`: list of words -> list of stems)."""
    out: dict[str, str] = {}
    for concept, (en, es, _ja) in CONCEPTS.items():
        words = [w for w in (en + " " + es).split() if " " not in w]
        for st in stem(words):
            out.setdefault(st, "~" + concept)
    return out


JA = re.compile("|".join(sorted({w for _, _, ja in CONCEPTS.values() for w in ja.split()},
                                key=len, reverse=True)))
JA_CONCEPT = {w: "~" + c for c, (_, _, ja) in CONCEPTS.items() for w in ja.split()}
