#ifndef ALLOT_GLPK_SHIM_H
#define ALLOT_GLPK_SHIM_H
#include <glpk.h>
#endif
