/* ui_assets — the dashboard's files (ui/ at the repository's root), built
 * into the binary: scripts/embed-ui.cmake writes the table at build time
 * (ui_assets.c in the build directory); src/api/ui.c serves it. */
#ifndef HD_API_UI_ASSETS_H
#define HD_API_UI_ASSETS_H

#include <stddef.h>

typedef struct hd_ui_asset_s {
    const char *name;          /* the file's name in ui/, e.g. "app.js" */
    const char *type;          /* its Content-Type */
    const unsigned char *data; /* its bytes (a NUL follows them) */
    size_t len;
    const char *etag; /* a strong ETag, quoted: its content's hash */
} hd_ui_asset_t;

/* Every file, by name; a NULL name ends the table. */
extern const hd_ui_asset_t hd_ui_assets[];

#endif
