"""Layer styles for QGIS (QML) and other GIS (SLD 1.1), one per output layer.

The styles are stored in the GeoPackage's ``layer_styles`` table so the layers open styled in
QGIS. They are the same in print and on screen: sites are numbered red circles labelled by rank,
coverage areas hollow dashed outlines, eligible candidates small blue dots and excluded ones grey,
demand graduated by weight, allocation lines thin grey and towns graduated greys by deaths.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

QGIS_VERSION = "3.28.0-Firenze"
SITE_RED = (215, 48, 31)
EXISTING_GREY = (77, 77, 77)
ELIGIBLE_BLUE = (43, 140, 190)
EXCLUDED_GREY = (170, 170, 170)
LINE_GREY = (51, 51, 51)
#: five sequential greys (town choropleth), white to mid grey: legible in black and white, and
#: dark marks (sites, lines, labels) stay visible on every class
GREYS = ((255, 255, 255), (227, 227, 227), (196, 196, 196), (160, 160, 160), (122, 122, 122))
#: five sequential oranges to dark red (demand weight)
HEAT = ((254, 229, 217), (252, 174, 145), (251, 106, 74), (222, 45, 38), (165, 15, 21))


@dataclass(frozen=True)
class Graduated:
    """Classes of a graduated style: the field and (lower, upper, label) per class.

    Use :func:`contiguous` so that no value between two classes is left undrawn.
    """

    field: str
    ranges: Sequence[tuple[float, float, str]]


def contiguous(bounds: Sequence[tuple[float, float]], labels: Sequence[str]) -> list:
    """Ranges whose lower bound is the previous class's upper bound (labels keep the data's)."""
    out = []
    for i, ((lo, hi), label) in enumerate(zip(bounds, labels, strict=True)):
        out.append((lo if i == 0 else bounds[i - 1][1], hi, label))
    return out


def rgba(c: tuple[int, int, int], alpha: int = 255) -> str:
    """QGIS colour text ``r,g,b,a``."""
    return f"{c[0]},{c[1]},{c[2]},{alpha}"


def hexcolor(c: tuple[int, int, int]) -> str:
    """``#rrggbb``."""
    return "#{:02x}{:02x}{:02x}".format(*c)


# -------------------------------------------------------------------------------------- QML


def _options(parent: ET.Element, values: dict[str, str]) -> None:
    opt = ET.SubElement(parent, "Option", type="Map")
    for k in sorted(values):
        ET.SubElement(opt, "Option", name=k, type="QString", value=values[k])


def _marker(
    name: str,
    color: tuple[int, int, int],
    size: float,
    shape: str = "circle",
    outline: tuple[int, int, int] = (255, 255, 255),
    outline_width: float = 0.0,
) -> ET.Element:
    sym = ET.Element("symbol", type="marker", name=name, alpha="1", clip_to_extent="1")
    sym.set("force_rhr", "0")
    layer = ET.SubElement(sym, "layer", {"class": "SimpleMarker", "enabled": "1", "locked": "0"})
    layer.set("pass", "0")
    _options(
        layer,
        {
            "angle": "0",
            "color": rgba(color),
            "name": shape,
            "outline_color": rgba(outline),
            "outline_style": "solid" if outline_width > 0 else "no",
            "outline_width": f"{outline_width:g}",
            "outline_width_unit": "MM",
            "size": f"{size:g}",
            "size_unit": "MM",
            "scale_method": "diameter",
        },
    )
    return sym


def _fill(
    name: str,
    color: tuple[int, int, int] | None,
    outline: tuple[int, int, int],
    width: float,
    line_style: str = "solid",
) -> ET.Element:
    sym = ET.Element("symbol", type="fill", name=name, alpha="1", clip_to_extent="1")
    sym.set("force_rhr", "0")
    layer = ET.SubElement(sym, "layer", {"class": "SimpleFill", "enabled": "1", "locked": "0"})
    layer.set("pass", "0")
    _options(
        layer,
        {
            "color": rgba(color) if color else "0,0,0,0",
            "style": "solid" if color else "no",
            "outline_color": rgba(outline),
            "outline_style": line_style,
            "outline_width": f"{width:g}",
            "outline_width_unit": "MM",
            "joinstyle": "round",
        },
    )
    return sym


def _line(name: str, color: tuple[int, int, int], width: float) -> ET.Element:
    sym = ET.Element("symbol", type="line", name=name, alpha="1", clip_to_extent="1")
    sym.set("force_rhr", "0")
    layer = ET.SubElement(sym, "layer", {"class": "SimpleLine", "enabled": "1", "locked": "0"})
    layer.set("pass", "0")
    _options(
        layer,
        {
            "line_color": rgba(color),
            "line_style": "solid",
            "line_width": f"{width:g}",
            "line_width_unit": "MM",
            "capstyle": "round",
        },
    )
    return sym


def _qgis(geometry_type: int, labels: bool) -> ET.Element:
    root = ET.Element("qgis", version=QGIS_VERSION)
    root.set("styleCategories", "Symbology|Labeling")
    root.set("labelsEnabled", "1" if labels else "0")
    return root


def _single(root: ET.Element, symbol: ET.Element) -> None:
    r = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0")
    r.set("forceraster", "0")
    r.set("enableorderby", "0")
    ET.SubElement(r, "symbols").append(symbol)


def _rules(root: ET.Element, rules: Sequence[tuple[str, str, ET.Element]]) -> None:
    r = ET.SubElement(root, "renderer-v2", type="RuleRenderer", symbollevels="0")
    r.set("forceraster", "0")
    r.set("enableorderby", "0")
    rs = ET.SubElement(r, "rules", key="{00000000-0000-4000-8000-000000000000}")
    syms = ET.SubElement(r, "symbols")
    for i, (label, flt, sym) in enumerate(rules):
        ET.SubElement(
            rs,
            "rule",
            key=f"{{00000000-0000-4000-8000-{i + 1:012d}}}",
            label=label,
            filter=flt,
            symbol=str(i),
        )
        sym.set("name", str(i))
        syms.append(sym)


def _graduated(root: ET.Element, grad: Graduated, symbols: Sequence[ET.Element]) -> None:
    r = ET.SubElement(root, "renderer-v2", type="graduatedSymbol", attr=grad.field)
    r.set("symbollevels", "0")
    r.set("forceraster", "0")
    r.set("enableorderby", "0")
    r.set("graduatedMethod", "GraduatedColor")
    ranges = ET.SubElement(r, "ranges")
    syms = ET.SubElement(r, "symbols")
    for i, ((lo, hi, label), sym) in enumerate(zip(grad.ranges, symbols, strict=True)):
        ET.SubElement(
            ranges,
            "range",
            symbol=str(i),
            lower=repr(float(lo)),
            upper=repr(float(hi)),
            label=label,
            render="true",
        )
        sym.set("name", str(i))
        syms.append(sym)
    ET.SubElement(r, "mode", name="jenks" if grad.field == "deaths" else "quantile")


def _rank_labels(root: ET.Element) -> None:
    lab = ET.SubElement(root, "labeling", type="simple")
    s = ET.SubElement(lab, "settings", calloutType="simple")
    ts = ET.SubElement(s, "text-style", fieldName="rank", isExpression="0")
    for k, v in {
        "fontFamily": "Sans Serif",
        "fontSize": "9",
        "fontSizeUnit": "Point",
        "fontWeight": "75",
        "textColor": "255,255,255,255",
        "textOpacity": "1",
    }.items():
        ts.set(k, v)
    ET.SubElement(s, "placement", placement="1", quadOffset="4", xOffset="0", yOffset="0")
    ET.SubElement(s, "rendering", obstacle="1", displayAll="1", drawLabels="1")


def _finish(root: ET.Element, geometry_type: int) -> str:
    ET.SubElement(root, "layerGeometryType").text = str(geometry_type)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


def qml(layer: str, grad: Graduated | None = None) -> str:
    """The QML style of an output layer (``grad`` gives the classes of graduated layers)."""
    if layer == "sites":
        root = _qgis(0, labels=True)
        _rules(
            root,
            [
                (
                    "chosen site (number = rank)",
                    "\"role\" <> 'existing'",
                    _marker("0", SITE_RED, 7, outline=(255, 255, 255), outline_width=0.6),
                ),
                (
                    "existing site",
                    "\"role\" = 'existing'",
                    _marker("1", EXISTING_GREY, 5, "square", (255, 255, 255), 0.6),
                ),
            ],
        )
        _rank_labels(root)
        return _finish(root, 0)
    if layer == "coverage":
        root = _qgis(2, labels=False)
        _single(root, _fill("0", None, SITE_RED, 0.6, "dash"))
        return _finish(root, 2)
    if layer == "candidates":
        root = _qgis(0, labels=False)
        _rules(
            root,
            [
                ("eligible", '"eligible"', _marker("0", ELIGIBLE_BLUE, 0.8)),
                ("excluded", 'NOT "eligible"', _marker("1", EXCLUDED_GREY, 0.6)),
            ],
        )
        return _finish(root, 0)
    if layer == "allocation":
        root = _qgis(1, labels=False)
        _single(root, _line("0", LINE_GREY, 0.2))
        return _finish(root, 1)
    if layer == "demand" and grad is not None:
        root = _qgis(0, labels=False)
        n = len(grad.ranges)
        syms = [_marker(str(i), HEAT[_pick(i, n)], 0.8 + 0.3 * i) for i in range(n)]
        _graduated(root, grad, syms)
        return _finish(root, 0)
    if layer == "towns" and grad is not None:
        root = _qgis(2, labels=False)
        n = len(grad.ranges)
        syms = [_fill(str(i), GREYS[_pick(i, n)], (80, 80, 80), 0.2) for i in range(n)]
        _graduated(root, grad, syms)
        return _finish(root, 2)
    raise ValueError(f"no style for layer {layer!r}")


def _pick(i: int, n: int) -> int:
    """Spread ``n`` classes over the five colours."""
    return 0 if n <= 1 else round(i * 4 / (n - 1))


# -------------------------------------------------------------------------------------- SLD

_SLD = "http://www.opengis.net/sld"
_SE = "http://www.opengis.net/se"
_OGC = "http://www.opengis.net/ogc"
ET.register_namespace("", _SLD)
ET.register_namespace("se", _SE)
ET.register_namespace("ogc", _OGC)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
ET.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")


def _se(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{_SE}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def _param(parent: ET.Element, kind: str, name: str, value: str) -> None:
    _se(parent, f"{kind}Parameter", value, name=name)


def _sld_point(
    rule: ET.Element,
    color: tuple[int, int, int],
    size_px: float,
    shape: str = "circle",
    stroke: tuple[int, int, int] | None = None,
) -> None:
    ps = _se(rule, "PointSymbolizer")
    g = _se(ps, "Graphic")
    mark = _se(g, "Mark")
    _se(mark, "WellKnownName", shape)
    fill = _se(mark, "Fill")
    _param(fill, "Svg", "fill", hexcolor(color))
    if stroke is not None:
        st = _se(mark, "Stroke")
        _param(st, "Svg", "stroke", hexcolor(stroke))
        _param(st, "Svg", "stroke-width", "1")
    _se(g, "Size", f"{size_px:g}")


def _sld_poly(
    rule: ET.Element,
    color: tuple[int, int, int] | None,
    stroke: tuple[int, int, int],
    width: float,
    dash: str | None = None,
) -> None:
    ps = _se(rule, "PolygonSymbolizer")
    if color is not None:
        fill = _se(ps, "Fill")
        _param(fill, "Svg", "fill", hexcolor(color))
    st = _se(ps, "Stroke")
    _param(st, "Svg", "stroke", hexcolor(stroke))
    _param(st, "Svg", "stroke-width", f"{width:g}")
    if dash:
        _param(st, "Svg", "stroke-dasharray", dash)


def _filter(rule: ET.Element, op: str, field: str, value: str) -> None:
    flt = ET.SubElement(rule, f"{{{_OGC}}}Filter")
    cmp_ = ET.SubElement(flt, f"{{{_OGC}}}{op}")
    ET.SubElement(cmp_, f"{{{_OGC}}}PropertyName").text = field
    ET.SubElement(cmp_, f"{{{_OGC}}}Literal").text = value


def _range_filter(rule: ET.Element, field: str, lo: float, hi: float) -> None:
    flt = ET.SubElement(rule, f"{{{_OGC}}}Filter")
    a = ET.SubElement(flt, f"{{{_OGC}}}And")
    for op, v in (("PropertyIsGreaterThanOrEqualTo", lo), ("PropertyIsLessThanOrEqualTo", hi)):
        c = ET.SubElement(a, f"{{{_OGC}}}{op}")
        ET.SubElement(c, f"{{{_OGC}}}PropertyName").text = field
        ET.SubElement(c, f"{{{_OGC}}}Literal").text = repr(float(v))


def sld(layer: str, grad: Graduated | None = None) -> str:
    """The SLD 1.1 style of an output layer."""
    root = ET.Element(f"{{{_SLD}}}StyledLayerDescriptor", version="1.1.0")
    root.set(
        "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation",
        "http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd",
    )
    nl = ET.SubElement(root, f"{{{_SLD}}}NamedLayer")
    _se(nl, "Name", layer)
    us = ET.SubElement(nl, f"{{{_SLD}}}UserStyle")
    _se(us, "Name", layer)
    fts = _se(us, "FeatureTypeStyle")

    def rule(name: str) -> ET.Element:
        r = _se(fts, "Rule")
        _se(r, "Name", name)
        return r

    if layer == "sites":
        r = rule("chosen site")
        _filter(r, "PropertyIsNotEqualTo", "role", "existing")
        _sld_point(r, SITE_RED, 20, stroke=(255, 255, 255))
        ts = _se(r, "TextSymbolizer")
        lab = _se(ts, "Label")
        ET.SubElement(lab, f"{{{_OGC}}}PropertyName").text = "rank"
        font = _se(ts, "Font")
        _param(font, "Svg", "font-size", "11")
        _param(font, "Svg", "font-weight", "bold")
        lp = _se(_se(ts, "LabelPlacement"), "PointPlacement")
        ap = _se(lp, "AnchorPoint")
        _se(ap, "AnchorPointX", "0.5")
        _se(ap, "AnchorPointY", "0.5")
        _param(_se(ts, "Fill"), "Svg", "fill", "#ffffff")
        r = rule("existing site")
        _filter(r, "PropertyIsEqualTo", "role", "existing")
        _sld_point(r, EXISTING_GREY, 14, "square", (255, 255, 255))
    elif layer == "coverage":
        _sld_poly(rule("coverage area"), None, SITE_RED, 1.5, "6 3")
    elif layer == "candidates":
        r = rule("eligible")
        _filter(r, "PropertyIsEqualTo", "eligible", "1")
        _sld_point(r, ELIGIBLE_BLUE, 3)
        r = rule("excluded")
        _filter(r, "PropertyIsEqualTo", "eligible", "0")
        _sld_point(r, EXCLUDED_GREY, 2.5)
    elif layer == "allocation":
        ls = _se(rule("allocation line"), "LineSymbolizer")
        st = _se(ls, "Stroke")
        _param(st, "Svg", "stroke", hexcolor(LINE_GREY))
        _param(st, "Svg", "stroke-width", "0.5")
    elif layer in ("demand", "towns") and grad is not None:
        n = len(grad.ranges)
        for i, (lo, hi, label) in enumerate(grad.ranges):
            r = rule(label)
            _range_filter(r, grad.field, lo, hi)
            if layer == "demand":
                _sld_point(r, HEAT[_pick(i, n)], 3 + 1.5 * i)
            else:
                _sld_poly(r, GREYS[_pick(i, n)], (80, 80, 80), 0.5)
    else:
        raise ValueError(f"no style for layer {layer!r}")
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
