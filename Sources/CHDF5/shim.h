#ifndef ALLOT_HDF5_SHIM_H
#define ALLOT_HDF5_SHIM_H
#include <hdf5.h>

/* HDF5's type and property macros expand to globals that Swift cannot import (and that
   are -1 until H5open() has run); these wrappers return them as plain values. */
static inline hid_t allot_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t allot_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t allot_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t allot_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t allot_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t allot_h5s_all(void) { return H5S_ALL; }
static inline unsigned allot_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned allot_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline size_t allot_h5t_variable(void) { return H5T_VARIABLE; }
static inline hid_t allot_h5p_link_create(void) { return H5P_LINK_CREATE; }

/* Silences HDF5's automatic error printing: failures become Swift errors instead. */
static inline void allot_h5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* The number of open HDF5 objects of every kind, for leak checks. */
static inline ssize_t allot_h5_open_objects(void) {
  return H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
}
#endif
