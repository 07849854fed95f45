"""Accent-blind matching (ours, beyond R43; docs/differences.md): `José`, `Jose` and `JOSÉ` fold alike.

One table, the same in Python and in SQL (PostgreSQL's `translate`): each Latin letter with an accent
(Latin-1, Latin Extended-A/B, Vietnamese) becomes its plain lower-case letter. It is frozen as written, not
computed from the running Python's Unicode tables, because folded keys are stored with it (our table's
`search_key_folded`, customers 0021; the shadow's `folded_key`): a change here needs a migration that
recomputes them. Letters that become two (ß, æ, œ) are left alone; the screens' German spellings cover ß.
"""

from __future__ import annotations

from django.db.models import Func, TextField, Value

ACCENTED = (
    "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆ"
    "ćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐő"
    "ŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚ"
    "ǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮ"
    "ȯȰȱȲȳḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲḳḴḵḶ"
    "ḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮṯṰṱṲ"
    "ṳṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẛẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳ"
    "ẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữ"
    "ỰựỲỳỴỵỶỷỸỹØøĐđŁłıĦħ"
)
PLAIN = (
    "aaaaaaceeeeiiiinooooouuuuyaaaaaaceeeeiiiinooooouuuuyyaaaaaac"
    "cccccccddeeeeeeeeeegggggggghhiiiiiiiiijjkkllllllnnnnnnoooooo"
    "rrrrrrssssssssttttuuuuuuuuuuuuwwyyyzzzzzzsoouuaaiioouuuuuuuu"
    "uuaaaaggkkoooojggnnaaaaaaeeeeiiiioooorrrruuuusstthhaaeeooooo"
    "oooyyaabbbbbbccddddddddddeeeeeeeeeeffgghhhhhhhhhhiiiikkkkkkl"
    "lllllllmmmmmmnnnnnnnnoooooooopppprrrrrrrrssssssssssttttttttu"
    "uuuuuuuuuvvvvwwwwwwwwwwxxxxyyzzzzzzhtwysaaaaaaaaaaaaaaaaaaaa"
    "aaaaeeeeeeeeeeeeeeeeiiiioooooooooooooooooooooooouuuuuuuuuuuu"
    "uuyyyyyyyyooddllihh"
)
TABLE = str.maketrans(ACCENTED, PLAIN)


def fold(text: str) -> str:
    """`text` lower-cased with its accents dropped, as `Folded` reads a column."""
    return text.lower().translate(TABLE)


class Folded(Func):
    """A lower-cased text expression with its accents dropped (PostgreSQL)."""

    function = "translate"
    output_field = TextField()

    def __init__(self, expression, **extra):
        super().__init__(expression, Value(ACCENTED), Value(PLAIN), **extra)
