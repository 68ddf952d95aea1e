  /* A working CRS other than EPSG:6433 (your own data): two quadratic polynomials fitted to the
     exact transformation over the map's frame (siteopt.outputs.webmap._local_proj). */
  function siteoptLocal(p) {
    function q(c, u, v) { return c[0] + c[1] * u + c[2] * v + c[3] * u * u + c[4] * u * v + c[5] * v * v; }
    function fwd(lon, lat) { var u = lon - p.lon0, v = lat - p.lat0; return [q(p.fx, u, v), q(p.fy, u, v)]; }
    function inv(x, y) { var u = (x - p.x0) / 1000, v = (y - p.y0) / 1000; return [q(p.ilon, u, v), q(p.ilat, u, v)]; }
    return { fwd: fwd, inv: inv };
  }
