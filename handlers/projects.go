package handlers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"apisec/app/projects"
	"apisec/app/resource"
	"apisec/models"
)

// Projects serves /projects.
type Projects struct {
	Projects *projects.Service
}

type project struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	OwnerID     string `json:"ownerId"`
	CreatedAt   string `json:"createdAt"` // RFC 3339, as userJSON
}

func projectJSON(p *models.Project) project {
	return project{ID: p.ID, Name: p.Name, Description: p.Description, OwnerID: p.OwnerID, CreatedAt: p.CreatedAt.Format(time.RFC3339Nano)}
}

type projectPage struct {
	Projects   []project `json:"projects"`
	NextCursor *string   `json:"nextCursor"` // null on the last page
}

// List handles GET /projects?limit=N&cursor=C.
func (h *Projects) List(c *gin.Context) (int, any, error) {
	page, err := resource.ParsePage(c.Request.URL.Query())
	if err != nil {
		return 0, nil, err
	}
	list, next, err := h.Projects.List(c.Request.Context(), page)
	if err != nil {
		return 0, nil, err
	}
	out := projectPage{Projects: make([]project, len(list)), NextCursor: next}
	for i := range list {
		out.Projects[i] = projectJSON(&list[i])
	}
	return http.StatusOK, out, nil
}

// Get handles GET /projects/:id.
func (h *Projects) Get(c *gin.Context) (int, any, error) {
	p, err := h.Projects.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, gin.H{"project": projectJSON(p)}, nil
}

type newProject struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Create handles POST /projects.
func (h *Projects) Create(c *gin.Context) (int, any, error) {
	who, err := callerOf(c)
	if err != nil {
		return 0, nil, err
	}
	var in newProject
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	p, err := h.Projects.Create(c.Request.Context(), who, in.Name, in.Description)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, gin.H{"project": projectJSON(p)}, nil
}

// projectPatch: an absent (or null) field stays as it is.
type projectPatch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// Update handles PATCH /projects/:id; who may is the service's rule.
func (h *Projects) Update(c *gin.Context) (int, any, error) {
	who, err := callerOf(c)
	if err != nil {
		return 0, nil, err
	}
	var in projectPatch
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	p, err := h.Projects.Update(c.Request.Context(), who, c.Param("id"), models.ProjectChanges{Name: in.Name, Description: in.Description})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, gin.H{"project": projectJSON(p)}, nil
}

// Delete handles DELETE /projects/:id.
func (h *Projects) Delete(c *gin.Context) (int, any, error) {
	if err := h.Projects.Delete(c.Request.Context(), c.Param("id")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
