#include "hd/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "hd/alloc.h"

static void append_child(hd_yaml *parent, hd_yaml *child)
{
    hd_yaml **tail = &parent->child;
    while (*tail)
        tail = &(*tail)->next;
    *tail = child;
    parent->count++;
}

typedef struct {
    yaml_parser_t parser;
    char *err;
    size_t errlen;
} loader;

static hd_yaml *parse_node(loader *l, yaml_event_t *ev);

static int next_event(loader *l, yaml_event_t *ev)
{
    if (yaml_parser_parse(&l->parser, ev))
        return 0;
    snprintf(l->err, l->errlen, "line %zu: %s", l->parser.problem_mark.line + 1,
             l->parser.problem ? l->parser.problem : "invalid YAML");
    return -1;
}

/* Reads children until the end event of a map or sequence. */
static int parse_children(loader *l, hd_yaml *node)
{
    for (;;) {
        yaml_event_t ev;
        if (next_event(l, &ev) != 0)
            return -1;
        if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        char *key = NULL;
        if (node->kind == HD_YAML_MAP) {
            if (ev.type != YAML_SCALAR_EVENT) {
                snprintf(l->err, l->errlen, "line %zu: map keys must be plain text",
                         ev.start_mark.line + 1);
                yaml_event_delete(&ev);
                return -1;
            }
            key = hd_xstrdup((const char *)ev.data.scalar.value);
            yaml_event_delete(&ev);
            if (next_event(l, &ev) != 0) {
                free(key);
                return -1;
            }
        }
        hd_yaml *child = parse_node(l, &ev);
        if (child == NULL) {
            free(key);
            return -1;
        }
        child->key = key;
        append_child(node, child);
    }
}

/* Builds the node that starts with `ev` (consumed). */
static hd_yaml *parse_node(loader *l, yaml_event_t *ev)
{
    hd_yaml *node = hd_xcalloc(1, sizeof *node);
    node->line = (int)ev->start_mark.line + 1;
    yaml_event_type_t type = ev->type;
    if (type == YAML_SCALAR_EVENT) {
        node->kind = HD_YAML_SCALAR;
        node->value = hd_xstrdup((const char *)ev->data.scalar.value);
    }
    yaml_event_delete(ev);
    if (type == YAML_SCALAR_EVENT)
        return node;
    if (type == YAML_MAPPING_START_EVENT || type == YAML_SEQUENCE_START_EVENT) {
        node->kind = type == YAML_MAPPING_START_EVENT ? HD_YAML_MAP : HD_YAML_SEQ;
        if (parse_children(l, node) == 0)
            return node;
    } else {
        snprintf(l->err, l->errlen, "line %d: aliases and anchors are not supported", node->line);
    }
    hd_yaml_free(&node);
    return NULL;
}

static hd_yaml *parse_document(loader *l)
{
    hd_yaml *root = NULL;
    for (;;) {
        yaml_event_t ev;
        if (next_event(l, &ev) != 0) {
            hd_yaml_free(&root);
            return NULL;
        }
        yaml_event_type_t type = ev.type;
        if (type == YAML_STREAM_END_EVENT || type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (root != NULL) {
            yaml_event_delete(&ev);
            continue;
        }
        root = parse_node(l, &ev);
        if (root == NULL)
            return NULL;
    }
    if (root == NULL) {
        root = hd_xcalloc(1, sizeof *root);
        root->kind = HD_YAML_MAP;
        root->line = 1;
    }
    return root;
}

hd_yaml *hd_yaml_load_string(const char *text, size_t len, char *err, size_t errlen)
{
    loader l = {.err = err, .errlen = errlen};
    if (!yaml_parser_initialize(&l.parser)) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&l.parser, (const unsigned char *)text, len);
    hd_yaml *root = parse_document(&l);
    yaml_parser_delete(&l.parser);
    return root;
}

hd_yaml *hd_yaml_load_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s", path);
        return NULL;
    }
    loader l = {.err = err, .errlen = errlen};
    if (!yaml_parser_initialize(&l.parser)) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_file(&l.parser, f);
    hd_yaml *root = parse_document(&l);
    yaml_parser_delete(&l.parser);
    fclose(f);
    return root;
}

void hd_yaml_free(hd_yaml **y)
{
    if (y == NULL || *y == NULL)
        return;
    hd_yaml *c = (*y)->child;
    while (c) {
        hd_yaml *next = c->next;
        hd_yaml_free(&c);
        c = next;
    }
    free((*y)->key);
    free((*y)->value);
    free(*y);
    *y = NULL;
}

const hd_yaml *hd_yaml_get(const hd_yaml *map, const char *key)
{
    if (map == NULL || map->kind != HD_YAML_MAP)
        return NULL;
    for (const hd_yaml *c = map->child; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

const char *hd_yaml_str(const hd_yaml *map, const char *key)
{
    const hd_yaml *v = hd_yaml_get(map, key);
    return v && v->kind == HD_YAML_SCALAR ? v->value : NULL;
}
