var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddCremaDAllServices();
var app = builder.Build();
app.MapDefaultEndpoints();
app.MapCremaDRunsApi();
app.Run();
