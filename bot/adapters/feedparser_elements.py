"""feedparser 6.0.x's element handlers `_FeedParserMixin.pop` and `unknown_starttag` with their
per-element overheads taken out (patch 6 of bot.adapters.feedparser_patch, which installs them
only over the exact source they were written from).

Text: expat calls feedparser's `characters`, which calls `handle_data(text)`; `make_characters`
is both in one function, given to expat directly (bot.adapters.feedparser_patch's reader).

`unknown_starttag` (every element opened): an element without attributes, outside content and
with no base URI in force (every element of a plain RSS item) skips the attribute, xml:base,
xml:lang, xmlns and inline-content steps, whose outcome is then known: the base URI stays "",
the language is the parent's, no namespace is declared. The rest is the original's.

feedparser calls `pop` once for every element it closes (six per RSS item), and most of its cost
is generic work whose result is known in advance for ordinary text:
* `output.translate(_cp1252)` walks every character through the table: skipped when no
  character of the table's keys (U+0080-U+009F) is in the text (translate would return it as is);
* `output.encode('iso-8859-1').decode('utf-8')` (the double-encoding repair) on every text:
  skipped for ASCII text, where it gives the text back;
* `looks_like_html` (four regular expressions through re's cache) for every RSS title: not
  called when the text has neither "&" nor "</", without which its first test fails;
* `del contentparams['mode']` / `['base64']` raising and catching KeyError for every element:
  `dict.pop(..., None)`; `contentparams.get(...)` as `dict.get` (keys FeedParserDict does not
  treat specially: checked by the guard); the HTML type mapping only when relative URIs are
  resolved or markup is sanitised (it has no other use); the link's `&name;` repair skipped
  when the link has no "&".
Everything else is the original, statement for statement, in the original order.
tests/test_parse_speed_equivalence.py compares feedparser's whole output with and without it.
"""
from __future__ import annotations

import base64
import binascii
import re
import xml.sax.saxutils

_ENTITY_IN_LINK = re.compile("&([A-Za-z0-9_]+);")       # the original's re.sub pattern
_dict_get, _dict_pop = dict.get, dict.pop


def make_pop(cp1252, deepcopy):
    """The fast `pop`, for the mixin's `_cp1252` mapping {code point: str} (the keys translate
    changes) and the `deepcopy` the mixin uses for contentparams."""
    changed = re.compile("[%s]" % "".join(re.escape(chr(k)) for k in sorted(cp1252))) \
        if cp1252 else None

    def pop(self, element, strip_whitespace=1):
        if not self.elementstack:
            return
        if self.elementstack[-1][0] != element:
            return

        element, expecting_text, pieces = self.elementstack.pop()

        # Ensure each piece is a str for Python 3
        for (i, v) in enumerate(pieces):
            if isinstance(v, bytes):
                pieces[i] = v.decode('utf-8')

        cp = self.contentparams
        if self.version == 'atom10' and _dict_get(cp, 'type', 'text') == 'application/xhtml+xml':
            # remove enclosing child element, but only if it is a <div> and
            # only if all the remaining content is nested underneath it.
            while pieces and len(pieces) > 1 and not pieces[-1].strip():
                del pieces[-1]
            while pieces and len(pieces) > 1 and not pieces[0].strip():
                del pieces[0]
            if pieces and (pieces[0] == '<div>' or pieces[0].startswith('<div ')) and pieces[-1] == '</div>':
                depth = 0
                for piece in pieces[:-1]:
                    if piece.startswith('</'):
                        depth -= 1
                        if depth == 0:
                            break
                    elif piece.startswith('<') and not piece.endswith('/>'):
                        depth += 1
                else:
                    pieces = pieces[1:-1]

        output = ''.join(pieces)
        if strip_whitespace:
            output = output.strip()
        if not expecting_text:
            return output

        # decode base64 content
        if _dict_get(cp, 'base64', 0):
            try:
                output = base64.decodebytes(output.encode('utf8')).decode('utf8')
            except (binascii.Error, binascii.Incomplete, UnicodeDecodeError):
                pass

        # resolve relative URIs
        if (element in self.can_be_relative_uri) and output:
            # do not resolve guid elements with isPermalink="false"
            if not element == 'id' or self.guidislink:
                output = self.resolve_uri(output)

        # decode entities within embedded markup
        if not _dict_get(cp, 'base64', 0):
            output = self.decode_entities(element, output)

        # some feed formats require consumers to guess
        # whether the content is html or plain text
        if not self.version.startswith('atom') and _dict_get(cp, 'type') == 'text/plain':
            if ('&' in output or '</' in output) and self.looks_like_html(output):
                cp['type'] = 'text/html'

        # remove temporary cruft from contentparams
        _dict_pop(cp, 'mode', None)
        _dict_pop(cp, 'base64', None)

        if self.resolve_relative_uris or self.sanitize_html:
            is_htmlish = self.map_content_type(_dict_get(cp, 'type', 'text/html')) in self.html_types
            # resolve relative URIs within embedded markup
            if is_htmlish and self.resolve_relative_uris:
                if element in self.can_contain_relative_uris:
                    output = _mixin.resolve_relative_uris(output, self.baseuri, self.encoding, _dict_get(cp, 'type', 'text/html'))

            # sanitize embedded markup
            if is_htmlish and self.sanitize_html:
                if element in self.can_contain_dangerous_markup:
                    output = _mixin._sanitize_html(output, self.encoding, _dict_get(cp, 'type', 'text/html'))

        if self.encoding and isinstance(output, bytes):
            output = output.decode(self.encoding, 'ignore')

        # address common error where people take data that is already
        # utf-8, presume that it is iso-8859-1, and re-encode it.
        if self.encoding in ('utf-8', 'utf-8_INVALID_PYTHON_3') and not isinstance(output, bytes) \
                and not output.isascii():
            try:
                output = output.encode('iso-8859-1').decode('utf-8')
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass

        # map win-1252 extensions to the proper code points
        if not isinstance(output, bytes) and changed is not None and not output.isascii() \
                and changed.search(output) is not None:
            output = output.translate(_mixin._cp1252)

        # categories/tags/keywords/whatever are handled in _end_category or
        # _end_tags or _end_itunes_keywords
        if element in ('category', 'tags', 'itunes_keywords'):
            return output

        if element == 'title' and -1 < self.title_depth <= self.depth:
            return output

        # store output in appropriate place(s)
        if self.inentry and not self.insource:
            if element == 'content':
                self.entries[-1].setdefault(element, [])
                contentparams = deepcopy(cp)
                contentparams['value'] = output
                self.entries[-1][element].append(contentparams)
            elif element == 'link':
                if not self.inimage:
                    # query variables in urls in link elements are improperly
                    # converted from `?a=1&b=2` to `?a=1&b;=2` as if they're
                    # unhandled character references. fix this special case.
                    if '&' in output:
                        output = output.replace('&amp;', '&')
                        output = _ENTITY_IN_LINK.sub(r"&\g<1>", output)
                    self.entries[-1][element] = output
                    if output:
                        self.entries[-1]['links'][-1]['href'] = output
            else:
                if element == 'description':
                    element = 'summary'
                old_value_depth = self.property_depth_map.setdefault(self.entries[-1], {}).get(element)
                if old_value_depth is None or self.depth <= old_value_depth:
                    self.property_depth_map[self.entries[-1]][element] = self.depth
                    self.entries[-1][element] = output
                if self.incontent:
                    contentparams = deepcopy(cp)
                    contentparams['value'] = output
                    self.entries[-1][element + '_detail'] = contentparams
        elif self.infeed or self.insource:  # and (not self.intextinput) and (not self.inimage):
            context = self._get_context()
            if element == 'description':
                element = 'subtitle'
            context[element] = output
            if element == 'link':
                # fix query variables; see above for the explanation
                if '&' in output:
                    output = _ENTITY_IN_LINK.sub(r"&\g<1>", output)
                context[element] = output
                context['links'][-1]['href'] = output
            elif self.incontent:
                contentparams = deepcopy(cp)
                contentparams['value'] = output
                context[element + '_detail'] = contentparams
        return output

    return pop


def make_starttag(original):
    """The fast `unknown_starttag`: `original` for an element with attributes, inside content
    or under a base URI."""

    def unknown_starttag(self, tag, attrs):
        if attrs or self.incontent or self.baseuri != '':
            return original(self, tag, attrs)
        # increment depth counter
        self.depth += 1
        # no xml:base: the base stays "" (the original's _urljoin("", "")); no xml:lang: the
        # parent's language
        lang = self.lang
        if lang:
            if tag in ('feed', 'rss', 'rdf:RDF'):
                self.feeddata['language'] = lang.replace('_', '-')
        self.basestack.append('')
        self.langstack.append(lang)

        # match namespaces
        if tag.find(':') != -1:
            prefix, suffix = tag.split(':', 1)
        else:
            prefix, suffix = '', tag
        prefix = self.namespacemap.get(prefix, prefix)
        if prefix:
            prefix = prefix + '_'

        # Special hack for better tracking of empty textinput/image elements in
        # illformed feeds.
        if (not prefix) and tag not in ('title', 'link', 'description', 'name'):
            self.intextinput = 0
        if (not prefix) and tag not in ('title', 'link', 'description', 'url', 'href', 'width', 'height'):
            self.inimage = 0

        # call special handler (if defined) or default handler
        methodname = '_start_' + prefix + suffix
        try:
            method = getattr(self, methodname)
            return method({})
        except AttributeError:
            # No handler: no attributes, so merge it into the enclosing dictionary
            unknown_tag = prefix + suffix
            return self.push(unknown_tag, 1)

    return unknown_starttag


def make_characters(handler):
    """expat's CharacterDataHandler for feedparser's strict parser object `handler`: its
    `characters(text)`, i.e. `handle_data(text)` with escape=1."""

    def characters(text):
        if not handler.elementstack:
            return
        if _dict_get(handler.contentparams, 'type') == 'application/xhtml+xml':
            text = xml.sax.saxutils.escape(text)
        handler.elementstack[-1][2].append(text)

    return characters


from feedparser import mixin as _mixin  # noqa: E402  (the module whose helpers pop calls)
