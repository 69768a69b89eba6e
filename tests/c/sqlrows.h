/*
 * sqlrows.h: a query result held in C, read either by stepping a cidb_stmt (typed getters)
 * or by parsing the JSON of cidb_tenant_query_json ({"columns":[...],"rows":[[...]]}),
 * and a cell-by-cell comparison of two results (types included: a JSON number with a '.'
 * or an exponent is REAL, without is INTEGER; a JSON object or array cell is compared as
 * its compact text with the JSON column's text). Used by the SQL tests.
 */
#ifndef CIDB_TEST_SQLROWS_H
#define CIDB_TEST_SQLROWS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidb.h"

typedef struct {
  cidb_value_type type;
  int64_t i;
  double d;
  char *s; /* TEXT and JSON: malloc'd, NUL-terminated, may hold NULs (see len) */
  size_t len;
} sr_cell;

typedef struct {
  size_t ncols, nrows, cap;
  char **cols;
  sr_cell *cells; /* nrows * ncols */
} sr_table;

static inline void sr_free(sr_table *t) {
  for (size_t c = 0; c < t->ncols; c++) free(t->cols[c]);
  for (size_t k = 0; k < t->nrows * t->ncols; k++) free(t->cells[k].s);
  free(t->cols);
  free(t->cells);
  memset(t, 0, sizeof *t);
}

static inline sr_cell *sr_at(const sr_table *t, size_t row, size_t col) { return &t->cells[row * t->ncols + col]; }

/* Index of column `name`, or -1. */
static inline int sr_col(const sr_table *t, const char *name) {
  for (size_t c = 0; c < t->ncols; c++)
    if (strcmp(t->cols[c], name) == 0) return (int)c;
  return -1;
}

static inline sr_cell *sr_push_row(sr_table *t) {
  if (t->nrows == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 16;
    t->cells = (sr_cell *)realloc(t->cells, t->cap * t->ncols * sizeof(sr_cell) + 1);
  }
  sr_cell *row = &t->cells[t->nrows++ * t->ncols];
  memset(row, 0, t->ncols * sizeof(sr_cell));
  return row;
}

static inline char *sr_dup(const char *s, size_t len) {
  char *d = (char *)malloc(len + 1);
  memcpy(d, s, len);
  d[len] = 0;
  return d;
}

/* Steps `stmt` to the end into `t`. Returns the first failing status (CIDB_OK when done). */
static inline cidb_status sr_from_stmt(cidb_stmt *stmt, sr_table *t) {
  memset(t, 0, sizeof *t);
  cidb_status st = cidb_stmt_column_count(stmt, &t->ncols);
  if (st != CIDB_OK) return st;
  t->cols = (char **)calloc(t->ncols + 1, sizeof(char *));
  for (size_t c = 0; c < t->ncols; c++) {
    const char *name = NULL;
    if ((st = cidb_stmt_column_name(stmt, c, &name)) != CIDB_OK) return st;
    t->cols[c] = sr_dup(name, strlen(name));
  }
  bool has_row = false;
  while ((st = cidb_stmt_step(stmt, &has_row)) == CIDB_OK && has_row) {
    sr_cell *row = sr_push_row(t);
    for (size_t c = 0; c < t->ncols; c++) {
      sr_cell *x = &row[c];
      if ((st = cidb_stmt_column_type(stmt, c, &x->type)) != CIDB_OK) return st;
      switch (x->type) {
        case CIDB_VALUE_INTEGER: st = cidb_stmt_column_int64(stmt, c, &x->i); break;
        case CIDB_VALUE_REAL: st = cidb_stmt_column_double(stmt, c, &x->d); break;
        case CIDB_VALUE_TEXT:
        case CIDB_VALUE_JSON: {
          const char *text = NULL;
          st = cidb_stmt_column_text(stmt, c, &text, &x->len);
          if (st == CIDB_OK) x->s = sr_dup(text, x->len);
          break;
        }
        case CIDB_VALUE_NULL: break;
      }
      if (st != CIDB_OK) return st;
    }
  }
  return st;
}

/* ---- a JSON reader for the shape of cidb_tenant_query_json --------------------------- */

typedef struct {
  const char *p;
  int bad;
} sr_json;

static inline void sr_ws(sr_json *j) {
  while (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r') j->p++;
}

static inline int sr_eat(sr_json *j, char c) {
  sr_ws(j);
  if (*j->p != c) {
    j->bad = 1;
    return 0;
  }
  j->p++;
  return 1;
}

static inline void sr_utf8(char **o, unsigned cp) {
  unsigned char *u = (unsigned char *)*o;
  if (cp < 0x80) {
    *u++ = (unsigned char)cp;
  } else if (cp < 0x800) {
    *u++ = (unsigned char)(0xC0 | (cp >> 6));
    *u++ = (unsigned char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *u++ = (unsigned char)(0xE0 | (cp >> 12));
    *u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    *u++ = (unsigned char)(0x80 | (cp & 0x3F));
  } else {
    *u++ = (unsigned char)(0xF0 | (cp >> 18));
    *u++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    *u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    *u++ = (unsigned char)(0x80 | (cp & 0x3F));
  }
  *o = (char *)u;
}

/* A JSON string at j->p, unescaped into a malloc'd buffer (length in *len). */
static inline char *sr_string(sr_json *j, size_t *len) {
  if (!sr_eat(j, '"')) return NULL;
  char *out = (char *)malloc(strlen(j->p) + 1), *o = out;
  while (*j->p && *j->p != '"') {
    if (*j->p != '\\') {
      *o++ = *j->p++;
      continue;
    }
    j->p++;
    char e = *j->p++;
    switch (e) {
      case 'n': *o++ = '\n'; break;
      case 't': *o++ = '\t'; break;
      case 'r': *o++ = '\r'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'u': {
        unsigned cp = (unsigned)strtoul((char[5]){j->p[0], j->p[1], j->p[2], j->p[3], 0}, NULL, 16);
        j->p += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && j->p[0] == '\\' && j->p[1] == 'u') {
          unsigned lo = (unsigned)strtoul((char[5]){j->p[2], j->p[3], j->p[4], j->p[5], 0}, NULL, 16);
          j->p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        sr_utf8(&o, cp);
        break;
      }
      default: *o++ = e; break; /* \" \\ \/ */
    }
  }
  sr_eat(j, '"');
  *len = (size_t)(o - out);
  *o = 0;
  return out;
}

/* Skips a JSON object or array, returning its raw text. */
static inline char *sr_raw(sr_json *j, size_t *len) {
  const char *start = j->p;
  int depth = 0, in_str = 0;
  for (; *j->p; j->p++) {
    char c = *j->p;
    if (in_str) {
      if (c == '\\') j->p++;
      else if (c == '"') in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      j->p++;
      break;
    }
  }
  *len = (size_t)(j->p - start);
  return sr_dup(start, *len);
}

static inline void sr_value(sr_json *j, sr_cell *x) {
  sr_ws(j);
  char c = *j->p;
  if (c == 'n' && strncmp(j->p, "null", 4) == 0) {
    x->type = CIDB_VALUE_NULL;
    j->p += 4;
  } else if (c == '"') {
    x->type = CIDB_VALUE_TEXT;
    x->s = sr_string(j, &x->len);
  } else if (c == '{' || c == '[') {
    x->type = CIDB_VALUE_JSON;
    x->s = sr_raw(j, &x->len);
  } else {
    const char *end = j->p;
    while (*end && strchr("+-0123456789.eE", *end)) end++;
    if (end == j->p) {
      j->bad = 1;
      return;
    }
    if (memchr(j->p, '.', (size_t)(end - j->p)) || memchr(j->p, 'e', (size_t)(end - j->p)) ||
        memchr(j->p, 'E', (size_t)(end - j->p))) {
      x->type = CIDB_VALUE_REAL;
      x->d = strtod(j->p, NULL);
    } else {
      x->type = CIDB_VALUE_INTEGER;
      x->i = strtoll(j->p, NULL, 10);
    }
    j->p = end;
  }
}

/* Parses {"columns":[...],"rows":[[...],...]} into `t`; 0 on success. */
static inline int sr_from_json(const char *json, sr_table *t) {
  memset(t, 0, sizeof *t);
  sr_json j = {json, 0};
  size_t len;
  sr_eat(&j, '{');
  char *key = sr_string(&j, &len);
  if (!key || strcmp(key, "columns") != 0) j.bad = 1;
  free(key);
  sr_eat(&j, ':');
  sr_eat(&j, '[');
  size_t cap = 8;
  t->cols = (char **)calloc(cap, sizeof(char *));
  sr_ws(&j);
  while (!j.bad && *j.p != ']') {
    if (t->ncols == cap) t->cols = (char **)realloc(t->cols, (cap *= 2) * sizeof(char *));
    t->cols[t->ncols++] = sr_string(&j, &len);
    sr_ws(&j);
    if (*j.p == ',') j.p++;
    sr_ws(&j);
  }
  sr_eat(&j, ']');
  sr_eat(&j, ',');
  key = sr_string(&j, &len);
  if (!key || strcmp(key, "rows") != 0) j.bad = 1;
  free(key);
  sr_eat(&j, ':');
  sr_eat(&j, '[');
  sr_ws(&j);
  while (!j.bad && *j.p == '[') {
    j.p++;
    sr_cell *row = sr_push_row(t);
    for (size_t c = 0; c < t->ncols && !j.bad; c++) {
      if (c > 0) sr_eat(&j, ',');
      sr_value(&j, &row[c]);
    }
    sr_eat(&j, ']');
    sr_ws(&j);
    if (*j.p == ',') j.p++;
    sr_ws(&j);
  }
  sr_eat(&j, ']');
  sr_eat(&j, '}');
  return j.bad;
}

/* Compares two results; on the first difference writes it to `why` and returns 1. */
static inline int sr_diff(const sr_table *a, const sr_table *b, char *why, size_t n) {
  if (a->ncols != b->ncols) return snprintf(why, n, "%zu vs %zu columns", a->ncols, b->ncols), 1;
  for (size_t c = 0; c < a->ncols; c++)
    if (strcmp(a->cols[c], b->cols[c]) != 0) return snprintf(why, n, "column %zu: %s vs %s", c, a->cols[c], b->cols[c]), 1;
  if (a->nrows != b->nrows) return snprintf(why, n, "%zu vs %zu rows", a->nrows, b->nrows), 1;
  for (size_t r = 0; r < a->nrows; r++) {
    for (size_t c = 0; c < a->ncols; c++) {
      const sr_cell *x = sr_at(a, r, c), *y = sr_at(b, r, c);
      int same = x->type == y->type;
      if (same && x->type == CIDB_VALUE_INTEGER) same = x->i == y->i;
      if (same && x->type == CIDB_VALUE_REAL) same = x->d == y->d;
      if (same && (x->type == CIDB_VALUE_TEXT || x->type == CIDB_VALUE_JSON))
        same = x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
      if (!same)
        return snprintf(why, n, "row %zu column %s: type %d vs %d (%s vs %s)", r, a->cols[c], x->type, y->type,
                        x->s ? x->s : "-", y->s ? y->s : "-"),
               1;
    }
  }
  return 0;
}

#endif /* CIDB_TEST_SQLROWS_H */
